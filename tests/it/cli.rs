//! The CLI contract (DESIGN "Contracts"): each admin command with `--json` prints one JSON
//! object; bad input exits non-zero with a reason. Runs the real binary on a temporary SQLite file.

use std::process::Command;

use serde_json::Value;

struct Cli {
    dir: tempfile::TempDir,
    key: String,
}

impl Cli {
    fn new() -> Cli {
        Cli {
            dir: tempfile::tempdir().unwrap(),
            key: firmgate::crypto::secret_box::MasterKey::generate().to_hex(),
        }
    }

    fn run(&self, args: &[&str]) -> (bool, Value, String) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_firmgate"));
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("FIRMGATE_")) {
            cmd.env_remove(k);
        }
        let out = cmd
            .current_dir(self.dir.path())
            .env(
                "FIRMGATE_DATABASE_URL",
                format!(
                    "sqlite://{}?mode=rwc",
                    self.dir.path().join("fg.db").display()
                ),
            )
            .env("FIRMGATE_MASTER_KEY", &self.key)
            .args(args)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let json = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
        (
            out.status.success(),
            json,
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    }
}

#[test]
fn admin_commands_print_one_json_object() {
    let cli = Cli::new();
    let (ok, firm, err) = cli.run(&[
        "firm",
        "create",
        "--name",
        "Example LLP",
        "--region",
        "au",
        "--json",
    ]);
    assert!(ok, "{err}");
    let firm_id = firm["id"].as_str().unwrap().to_owned();
    let (ok, user, err) = cli.run(&[
        "user",
        "create",
        "--firm",
        &firm_id,
        "--email",
        "Ann@Example.com",
        "--name",
        "Ann",
        "--password",
        "correct horse battery staple",
        "--role",
        "owner",
        "--json",
    ]);
    assert!(ok, "{err}");
    assert_eq!(user["new_person"], true);
    let (_, second_firm, _) = cli.run(&["firm", "create", "--name", "Second LLP", "--json"]);
    let (ok, again, err) = cli.run(&[
        "user",
        "create",
        "--firm",
        second_firm["id"].as_str().unwrap(),
        "--email",
        "ann@example.com",
        "--name",
        "Ann",
        "--password",
        "another long passphrase",
        "--json",
    ]);
    assert!(ok, "{err}");
    assert_eq!(again["id"], user["id"], "one person, two memberships");
    assert_eq!(again["new_person"], false);
    let (ok, client, err) = cli.run(&[
        "client",
        "create",
        "--name",
        "App",
        "--redirect-uri",
        "https://app.example/cb",
        "--post-logout-redirect-uri",
        "https://app.example/bye",
        "--grant",
        "authorization_code,refresh_token,client_credentials",
        "--json",
    ]);
    assert!(ok, "{err}");
    assert!(client["client_id"].as_str().unwrap().len() >= 22);
    assert!(client["client_secret"].as_str().unwrap().len() >= 43);
    let (ok, public, _) = cli.run(&[
        "client",
        "create",
        "--name",
        "SPA",
        "--redirect-uri",
        "http://127.0.0.1:3000/cb",
        "--public",
        "--json",
    ]);
    assert!(ok);
    assert!(public["client_secret"].is_null());
    let (ok, keys, _) = cli.run(&["keys", "rotate", "--json"]);
    assert!(ok);
    assert_eq!(keys["new_kids"].as_array().unwrap().len(), 3);
    let (ok, policy, err) = cli.run(&[
        "firm",
        "policy",
        "--firm",
        &firm_id,
        "--idle-timeout",
        "30m",
        "--password-min-length",
        "16",
        "--json",
    ]);
    assert!(ok, "{err}");
    assert_eq!(policy["idle_timeout_secs"], 1800);
    assert_eq!(policy["password_min_length"], 16);
    let (ok, _, err) = cli.run(&[
        "firm",
        "policy",
        "--firm",
        &firm_id,
        "--password-min-length",
        "6",
    ]);
    assert!(!ok && err.contains("between 8"), "{err}");
    let (ok, _, _) = cli.run(&["firm", "policy", "--firm", &firm_id, "--idle-timeout", "0s"]);
    assert!(!ok, "a zero idle timeout is refused");

    // The password lifecycle settings, off by default, each with its range.
    let (ok, policy, err) = cli.run(&[
        "firm",
        "policy",
        "--firm",
        &firm_id,
        "--password-max-age",
        "90",
        "--password-reuse-limit",
        "5",
        "--password-composition",
        "on",
        "--json",
    ]);
    assert!(ok, "{err}");
    assert_eq!(policy["password_max_age_days"], 90);
    assert_eq!(policy["password_reuse_limit"], 5);
    assert_eq!(policy["password_composition"], true);
    assert_eq!(policy["password_min_length"], 16, "other settings stay");
    for (flag, bad) in [
        ("--password-max-age", "731"),
        ("--password-max-age", "-1"),
        ("--password-reuse-limit", "25"),
        ("--password-composition", "maybe"),
    ] {
        let (ok, out, err) = cli.run(&["firm", "policy", "--firm", &firm_id, flag, bad, "--json"]);
        assert!(!ok, "{flag} {bad} must be refused: {out} {err}");
    }

    // An admin can only have a reset link sent; the message lands in data/outbox/ here.
    let (ok, sent, err) = cli.run(&[
        "user",
        "send-reset",
        "--firm",
        &firm_id,
        "--email",
        "ANN@example.com",
        "--json",
    ]);
    assert!(ok, "{err}");
    assert_eq!(sent["id"], user["id"]);
    let outbox = std::fs::read_dir(cli.dir.path().join("data/outbox"))
        .unwrap()
        .map(|e| {
            let raw = std::fs::read(e.unwrap().path()).unwrap();
            let m = mail_parser::MessageParser::default()
                .parse(raw.as_slice())
                .unwrap();
            m.body_text(0).unwrap().to_string()
        })
        .collect::<Vec<_>>();
    assert!(
        outbox.iter().any(|m| m.contains("/signin/reset?token=")),
        "the reset e-mail was written"
    );
    let (ok, _, err) = cli.run(&[
        "user",
        "send-reset",
        "--firm",
        second_firm["id"].as_str().unwrap(),
        "--email",
        "nobody@example.com",
        "--json",
    ]);
    assert!(!ok && err.contains("no member"), "{err}");
    // Only an owner may turn off a member's MFA (the success path is in tests/it/mfa.rs).
    let (ok, _, err) = cli.run(&[
        "user",
        "reset-mfa",
        "--firm",
        second_firm["id"].as_str().unwrap(),
        "--email",
        "ann@example.com",
        "--owner",
        "ann@example.com",
        "--json",
    ]);
    assert!(!ok && err.contains("only an owner"), "{err}");
    let (ok, out, err) = cli.run(&[
        "user",
        "reset-mfa",
        "--firm",
        &firm_id,
        "--email",
        "ann@example.com",
        "--owner",
        "ann@example.com",
        "--json",
    ]);
    assert!(
        !ok && err.contains("does not have two-step sign-in on"),
        "{err}"
    );
    assert!(
        out["error"].is_string(),
        "one JSON object on failure too: {out}"
    );
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_firmgate"))
        .args(["user", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        !help.contains("set-password"),
        "no command sets another person's password: {help}"
    );
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    // SECURITY case 5 (RFC 9700 §2.6; oidcc-redirect-uri-regfrag).
    let cli = Cli::new();
    for uri in [
        "https://app.example/cb#frag",
        "http://app.example/cb",
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,x",
    ] {
        let (ok, out, _) = cli.run(&[
            "client",
            "create",
            "--name",
            "Bad",
            "--redirect-uri",
            uri,
            "--json",
        ]);
        assert!(!ok, "{uri} accepted");
        assert!(out["error"].is_string());
    }
    let (ok, _, err) = cli.run(&["firm", "create", "--name", "X", "--region", "AUS"]);
    assert!(!ok && err.contains("ISO 3166"));
    let (_, firm, _) = cli.run(&["firm", "create", "--name", "X", "--json"]);
    let (ok, _, err) = cli.run(&[
        "user",
        "create",
        "--firm",
        firm["id"].as_str().unwrap(),
        "--email",
        "a@b.example",
        "--name",
        "A",
        "--password",
        "short",
    ]);
    assert!(!ok && err.contains("at least 12"), "{err}");
    let (ok, _, err) = cli.run(&[
        "user",
        "create",
        "--firm",
        "no-such-firm",
        "--email",
        "a@b.example",
        "--name",
        "A",
        "--password",
        "long enough password",
    ]);
    assert!(!ok && err.contains("no firm"), "{err}");
}

#[test]
fn unknown_settings_are_refused() {
    let cli = Cli::new();
    let out = Command::new(env!("CARGO_BIN_EXE_firmgate"))
        .current_dir(cli.dir.path())
        .env("FIRMGATE_MASTER_KEY", &cli.key)
        .env("FIRMGATE_ISUER", "https://typo.example")
        .args(["migrate"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("FIRMGATE_ISUER"));
}

/// `firm brand`: a PNG logo and a display name; an SVG is refused and changes nothing.
#[test]
fn firm_brand_sets_the_sign_in_page_name_and_logo() {
    let cli = Cli::new();
    let (_, firm, _) = cli.run(&["firm", "create", "--name", "Brand LLP", "--json"]);
    let firm = firm["id"].as_str().unwrap().to_owned();
    let svg = cli.dir.path().join("logo.svg");
    std::fs::write(
        &svg,
        "<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
    )
    .unwrap();
    let (ok, refused, _) = cli.run(&[
        "firm",
        "brand",
        "--firm",
        &firm,
        "--display-name",
        "Brand & Partners",
        "--logo",
        svg.to_str().unwrap(),
        "--json",
    ]);
    assert!(!ok);
    assert!(
        refused["error"].as_str().unwrap().contains("PNG or JPEG"),
        "{refused}"
    );
    let png = cli.dir.path().join("logo.png");
    std::fs::write(&png, crate::branding::TINY_PNG).unwrap();
    let (ok, set, err) = cli.run(&[
        "firm",
        "brand",
        "--firm",
        &firm,
        "--display-name",
        "Brand & Partners",
        "--logo",
        png.to_str().unwrap(),
        "--json",
    ]);
    assert!(ok, "{err}");
    assert_eq!(set["display_name"], "Brand & Partners");
    assert_eq!(set["logo"], "image/png");
    let (ok, removed, _) = cli.run(&["firm", "brand", "--firm", &firm, "--remove-logo", "--json"]);
    assert!(ok);
    assert_eq!(removed["logo"], Value::Null);
    assert_eq!(
        removed["display_name"], "Brand & Partners",
        "left as it was"
    );
}
