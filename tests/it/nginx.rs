//! The documented nginx configuration (`docs/nginx/firmgate.conf`), run by Debian's nginx over
//! TLS in front of two firmgate nodes on one database: a whole sign-in, redemption, refresh and
//! UserInfo through the proxy with requests landing on both nodes, the client's own
//! X-Forwarded-For replaced by its real address, and /metrics not reachable from outside.
//! CI installs nginx (`.ci/run`); without it the test says so and does nothing.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use serde_json::Value;

use crate::support::*;

struct Nginx(Child);

impl Drop for Nginx {
    /// SIGTERM, not SIGKILL: the master then stops its workers, which would otherwise outlive
    /// the test (and hold its output open).
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The documented site file with this test's ports and certificate.
fn site(port: u16, nodes: [u16; 2], dir: &std::path::Path) -> String {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/nginx/firmgate.conf"
    ))
    .unwrap();
    let replaced = doc
        .replace("listen 443 ssl", &format!("listen 127.0.0.1:{port} ssl"))
        .replace("127.0.0.1:8081", &format!("127.0.0.1:{}", nodes[0]))
        .replace("127.0.0.1:8082", &format!("127.0.0.1:{}", nodes[1]))
        .replace(
            "/etc/ssl/firmgate/fullchain.pem",
            &dir.join("cert.pem").display().to_string(),
        )
        .replace(
            "/etc/ssl/firmgate/privkey.pem",
            &dir.join("key.pem").display().to_string(),
        );
    assert_ne!(doc, replaced);
    replaced
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_behind_the_documented_nginx_configuration() {
    let Ok(nginx) = which("nginx") else {
        eprintln!("nginx is not installed: the nginx test did not run");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(dir.path().join("key.pem"))
        .arg("-out")
        .arg(dir.path().join("cert.pem"))
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(made.success());

    let issuer = format!("https://127.0.0.1:{port}");
    let a = TestServer::start_with(|s| {
        s.issuer = url::Url::parse(&issuer).unwrap();
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let b = a.another_node().await;
    let node_port = |n: &TestServer| n.base.rsplit(':').next().unwrap().parse::<u16>().unwrap();
    let nodes = [node_port(&a), node_port(&b)];
    let d = dir.path().display();
    let conf = format!(
        "daemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{\n\
         log_format upstreams '$upstream_addr $status $request_method $uri';\n\
         access_log {d}/access.log upstreams;\n\
         client_body_temp_path {d}/body;\nproxy_temp_path {d}/proxy;\n\
         {}\n}}\n",
        site(port, nodes, dir.path())
    );
    std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
    let _nginx = Nginx(
        Command::new(nginx)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "nginx did not start: {}",
            std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let fx = a.fixture().await;
    let http = |cookies: bool| {
        let mut headers = reqwest::header::HeaderMap::new();
        // A client trying to choose the address firmgate records.
        headers.insert("x-forwarded-for", "203.0.113.66".parse().unwrap());
        Client::builder()
            .danger_accept_invalid_certs(true)
            .cookie_store(cookies)
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    };
    let browser = Browser {
        http: http(true),
        base: issuer.clone(),
    };
    let req = AuthRequest::new(&fx.client_id);
    let back = browser.sign_in(&req, &fx.email).await;
    let code = query_param(&back, "code").unwrap();
    let rp = http(false);
    let token = |form: Vec<(&'static str, String)>| {
        let rp = rp.clone();
        let url = format!("{issuer}/token");
        let (id, secret) = (fx.client_id.clone(), fx.client_secret.clone());
        async move {
            let res = rp
                .post(url)
                .basic_auth(id, Some(secret))
                .form(&form)
                .send()
                .await
                .unwrap();
            (res.status(), res.json::<Value>().await.unwrap())
        }
    };
    let (status, tokens) = token(vec![
        ("grant_type", "authorization_code".into()),
        ("code", code),
        ("redirect_uri", REDIRECT.into()),
        ("code_verifier", req.verifier.clone()),
    ])
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(claims(tokens["id_token"].as_str().unwrap())["iss"], issuer);
    for _ in 0..3 {
        let (status, refreshed) = token(vec![
            ("grant_type", "refresh_token".into()),
            (
                "refresh_token",
                tokens["refresh_token"].as_str().unwrap().into(),
            ),
        ])
        .await;
        // Only the first refresh of that token succeeds; the rest are replays (and revoke).
        assert!(status == StatusCode::OK || refreshed["error"] == "invalid_grant");
    }
    let userinfo = rp
        .get(format!("{issuer}/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert!(userinfo.headers().contains_key("x-request-id"));
    let metrics = rp.get(format!("{issuer}/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), StatusCode::NOT_FOUND);

    // Requests landed on both nodes, and firmgate recorded the real client address.
    let log = std::fs::read_to_string(dir.path().join("access.log")).unwrap();
    for node in nodes {
        assert!(log.contains(&format!("127.0.0.1:{node} ")), "{log}");
    }
    let audit = a.state.store.audit_kinds(50).await.unwrap();
    assert!(audit
        .iter()
        .any(|(k, o, _)| k == "sign_in" && o == "success"));
    let pool = sqlx::AnyPool::connect(&a.state.settings.database_url)
        .await
        .unwrap();
    let ips: Vec<Option<String>> =
        sqlx::query_scalar("SELECT ip FROM audit_events WHERE kind = 'sign_in'")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(!ips.is_empty());
    assert!(
        ips.iter().all(|ip| ip.as_deref() == Some("127.0.0.1")),
        "{ips:?}"
    );
}

fn which(program: &str) -> Result<std::path::PathBuf, ()> {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .map(|d| std::path::Path::new(d).join(program))
        .find(|p| p.exists())
        .ok_or(())
}
