//! Settings: flags > `FIRMGATE_*` environment > optional TOML file > defaults. An unknown key in
//! the file or an unknown `FIRMGATE_*` variable is an error, so a typo never silently does nothing.

mod upstreams;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;
use url::Url;

use crate::crypto::secret_box::MasterKey;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the settings file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("unknown setting {0} (known: {known})", known = KNOWN_ENV.join(", "))]
    UnknownEnv(String),
    #[error("setting {name}: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error("cannot read or create the master key at {path}: {reason}")]
    MasterKey { path: String, reason: String },
}

/// Every environment variable firmgate reads.
pub const KNOWN_ENV: &[&str] = &[
    "FIRMGATE_CONFIG",
    "FIRMGATE_ISSUER",
    "FIRMGATE_LISTEN",
    "FIRMGATE_DATABASE_URL",
    "FIRMGATE_MASTER_KEY",
    "FIRMGATE_MASTER_KEY_FILE",
    "FIRMGATE_TRUSTED_PROXIES",
    "FIRMGATE_SESSION_IDLE_TIMEOUT",
    "FIRMGATE_SESSION_MAX_LIFETIME",
    "FIRMGATE_ACCESS_TOKEN_TTL",
    "FIRMGATE_REFRESH_TOKEN_TTL",
    "FIRMGATE_KEY_PUBLISH_LEAD",
    "FIRMGATE_LOG_FORMAT",
    "FIRMGATE_LOG",
    "FIRMGATE_SMTP_URL",
    "FIRMGATE_MAIL_FROM",
    "FIRMGATE_MFA_ISSUER",
    "FIRMGATE_METRICS_TOKEN",
    "FIRMGATE_MICROSOFT_CLIENT_ID",
    "FIRMGATE_MICROSOFT_CLIENT_SECRET",
    "FIRMGATE_MICROSOFT_DISCOVERY_URL",
    "FIRMGATE_GOOGLE_CLIENT_ID",
    "FIRMGATE_GOOGLE_CLIENT_SECRET",
    "FIRMGATE_GOOGLE_DISCOVERY_URL",
];

/// The settings file: every field optional, unknown fields refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    pub issuer: Option<String>,
    pub listen: Option<String>,
    pub database_url: Option<String>,
    pub master_key: Option<String>,
    pub master_key_file: Option<String>,
    pub trusted_proxies: Option<String>,
    pub session_idle_timeout: Option<String>,
    pub session_max_lifetime: Option<String>,
    pub access_token_ttl: Option<String>,
    pub refresh_token_ttl: Option<String>,
    pub key_publish_lead: Option<String>,
    pub log_format: Option<String>,
    pub smtp_url: Option<String>,
    pub mail_from: Option<String>,
    pub mfa_issuer: Option<String>,
    pub metrics_token: Option<String>,
    pub microsoft: Option<FileUpstream>,
    pub google: Option<FileUpstream>,
    /// Other OpenID providers, each `[[upstream]]` with a `name`.
    #[serde(default)]
    pub upstream: Vec<FileUpstream>,
}

/// An upstream OpenID provider in the settings file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileUpstream {
    /// Only for `[[upstream]]`: lower-case letters, digits and hyphens; the callback path uses it.
    pub name: Option<String>,
    /// What the button says after "Sign in with" (generic upstreams; default the name).
    pub label: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub discovery_url: Option<String>,
}

/// A setting that may hold a credential (an SMTP URL with a password): never printed.
#[derive(Clone)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(s: impl Into<String>) -> Self {
        SecretString(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Values given as command-line flags (highest precedence).
#[derive(Debug, Default, Clone)]
pub struct FlagSettings {
    pub config: Option<PathBuf>,
    pub issuer: Option<String>,
    pub listen: Option<String>,
    pub database_url: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug)]
pub struct Settings {
    /// The issuer identifier, exactly as published (no trailing slash).
    pub issuer: Url,
    pub listen: SocketAddr,
    pub database_url: String,
    pub master_key: MasterKey,
    pub trusted_proxies: Vec<IpNet>,
    pub session_idle_timeout: Duration,
    pub session_max_lifetime: Duration,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// How long a rotated-in key is published before it signs (JWKS caches must see it first).
    pub key_publish_lead: Duration,
    pub code_ttl: Duration,
    pub interaction_ttl: Duration,
    pub log_format: LogFormat,
    /// Argon2 cost; tests lower it, production keeps the OWASP minimum.
    pub password_cost: crate::crypto::password::HashCost,
    /// `smtp://host:port` (STARTTLS with `?tls=required`, `smtps://` for TLS); unset: .eml files.
    pub smtp_url: Option<SecretString>,
    pub mail_from: String,
    /// Where messages go as .eml files when no SMTP server is configured.
    pub outbox_dir: PathBuf,
    pub reset_link_ttl: Duration,
    pub invitation_ttl: Duration,
    /// The name authenticator apps show for firmgate accounts (the otpauth `issuer`).
    pub mfa_issuer: String,
    /// The bearer token a Prometheus scraper sends to `/metrics`; unset, only a peer on the
    /// loopback interface may read it.
    pub metrics_token: Option<SecretString>,
    /// Upstream OpenID providers people may sign in with, in button order.
    pub upstreams: Vec<UpstreamSettings>,
}

use upstreams::upstreams;
pub use upstreams::{UpstreamSettings, GOOGLE_DISCOVERY_URL, MICROSOFT_DISCOVERY_URL};

pub const DEFAULT_MAIL_FROM: &str = "firmgate <firmgate@localhost>";
pub const DEFAULT_MFA_ISSUER: &str = "firmgate";

/// At least 32 characters: it guards operational data, so it must not be guessable.
fn metrics_token(value: Option<String>) -> Result<Option<SecretString>, ConfigError> {
    match value {
        None => Ok(None),
        Some(v) if v.chars().count() >= 32 && !v.chars().any(char::is_whitespace) => {
            Ok(Some(SecretString::new(v)))
        }
        Some(_) => Err(ConfigError::Invalid {
            name: "metrics_token",
            reason: "must be at least 32 characters without spaces (e.g. `openssl rand -hex 32`)"
                .into(),
        }),
    }
}

/// 1 to 64 printable characters without `:` (the otpauth label separator).
fn mfa_issuer(value: Option<String>) -> Result<String, ConfigError> {
    let Some(v) = value else {
        return Ok(DEFAULT_MFA_ISSUER.to_owned());
    };
    let v = v.trim().to_owned();
    if v.is_empty() || v.chars().count() > 64 || v.contains(':') || v.chars().any(char::is_control)
    {
        return Err(ConfigError::Invalid {
            name: "mfa_issuer",
            reason: "use 1 to 64 characters without ':'".into(),
        });
    }
    Ok(v)
}

pub const DEFAULT_ISSUER: &str = "http://127.0.0.1:8080";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/firmgate.db?mode=rwc";
pub const DEV_MASTER_KEY_FILE: &str = "keys/dev-master.key";

impl Settings {
    /// Reads flags, the process environment and the optional file, in that order of precedence.
    pub fn load(flags: &FlagSettings) -> Result<Settings, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("FIRMGATE_"))
            .collect();
        Settings::from_sources(flags, &env)
    }

    pub fn from_sources(
        flags: &FlagSettings,
        env: &BTreeMap<String, String>,
    ) -> Result<Settings, ConfigError> {
        if let Some(unknown) = env.keys().find(|k| !KNOWN_ENV.contains(&k.as_str())) {
            return Err(ConfigError::UnknownEnv(unknown.clone()));
        }
        let file_path = flags
            .config
            .clone()
            .or_else(|| env.get("FIRMGATE_CONFIG").map(PathBuf::from));
        let file = match file_path {
            Some(path) => read_file(&path)?,
            None => FileSettings::default(),
        };
        let pick = |flag: Option<&String>, var: &str, file: Option<&String>| -> Option<String> {
            flag.cloned()
                .or_else(|| env.get(var).cloned())
                .or_else(|| file.cloned())
        };

        let issuer_text = pick(
            flags.issuer.as_ref(),
            "FIRMGATE_ISSUER",
            file.issuer.as_ref(),
        )
        .unwrap_or_else(|| DEFAULT_ISSUER.to_owned());
        let issuer = parse_issuer(&issuer_text)?;
        let listen_text = pick(
            flags.listen.as_ref(),
            "FIRMGATE_LISTEN",
            file.listen.as_ref(),
        )
        .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen = listen_text.parse().map_err(|_| ConfigError::Invalid {
            name: "listen",
            reason: format!("{listen_text:?} is not an address like 127.0.0.1:8080"),
        })?;
        let database_url = pick(
            flags.database_url.as_ref(),
            "FIRMGATE_DATABASE_URL",
            file.database_url.as_ref(),
        )
        .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());

        let master_key = match pick(None, "FIRMGATE_MASTER_KEY", file.master_key.as_ref()) {
            Some(text) => MasterKey::parse(&text).map_err(|e| ConfigError::Invalid {
                name: "master_key",
                reason: e.to_string(),
            })?,
            None => {
                let path = pick(
                    None,
                    "FIRMGATE_MASTER_KEY_FILE",
                    file.master_key_file.as_ref(),
                );
                match path {
                    Some(p) => read_master_key_file(&PathBuf::from(p))?,
                    None => dev_master_key(&PathBuf::from(DEV_MASTER_KEY_FILE))?,
                }
            }
        };

        let trusted_proxies = match pick(
            None,
            "FIRMGATE_TRUSTED_PROXIES",
            file.trusted_proxies.as_ref(),
        ) {
            Some(list) => parse_cidrs(&list).map_err(|reason| ConfigError::Invalid {
                name: "trusted_proxies",
                reason,
            })?,
            None => Vec::new(),
        };

        let duration =
            |name: &'static str, var: &str, file: Option<&String>, default: u64| match pick(
                None, var, file,
            ) {
                Some(text) => {
                    parse_duration(&text).map_err(|reason| ConfigError::Invalid { name, reason })
                }
                None => Ok(Duration::from_secs(default)),
            };
        let log_format =
            match pick(None, "FIRMGATE_LOG_FORMAT", file.log_format.as_ref()).as_deref() {
                None | Some("text") => LogFormat::Text,
                Some("json") => LogFormat::Json,
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        name: "log_format",
                        reason: format!("{other:?} is not text or json"),
                    })
                }
            };

        Ok(Settings {
            issuer,
            listen,
            database_url,
            master_key,
            trusted_proxies,
            session_idle_timeout: duration(
                "session_idle_timeout",
                "FIRMGATE_SESSION_IDLE_TIMEOUT",
                file.session_idle_timeout.as_ref(),
                8 * 3600,
            )?,
            session_max_lifetime: duration(
                "session_max_lifetime",
                "FIRMGATE_SESSION_MAX_LIFETIME",
                file.session_max_lifetime.as_ref(),
                12 * 3600,
            )?,
            access_token_ttl: duration(
                "access_token_ttl",
                "FIRMGATE_ACCESS_TOKEN_TTL",
                file.access_token_ttl.as_ref(),
                3600,
            )?,
            refresh_token_ttl: duration(
                "refresh_token_ttl",
                "FIRMGATE_REFRESH_TOKEN_TTL",
                file.refresh_token_ttl.as_ref(),
                21 * 24 * 3600,
            )?,
            key_publish_lead: duration(
                "key_publish_lead",
                "FIRMGATE_KEY_PUBLISH_LEAD",
                file.key_publish_lead.as_ref(),
                300,
            )?,
            code_ttl: Duration::from_secs(60),
            interaction_ttl: Duration::from_secs(30 * 60),
            log_format,
            password_cost: crate::crypto::password::HashCost::OWASP,
            smtp_url: pick(None, "FIRMGATE_SMTP_URL", file.smtp_url.as_ref())
                .map(SecretString::new),
            mail_from: pick(None, "FIRMGATE_MAIL_FROM", file.mail_from.as_ref())
                .unwrap_or_else(|| DEFAULT_MAIL_FROM.to_owned()),
            outbox_dir: PathBuf::from("data/outbox"),
            reset_link_ttl: Duration::from_secs(30 * 60),
            invitation_ttl: Duration::from_secs(7 * 86400),
            mfa_issuer: mfa_issuer(pick(None, "FIRMGATE_MFA_ISSUER", file.mfa_issuer.as_ref()))?,
            metrics_token: metrics_token(pick(
                None,
                "FIRMGATE_METRICS_TOKEN",
                file.metrics_token.as_ref(),
            ))?,
            upstreams: upstreams(env, &file)?,
        })
    }

    /// Settings for tests and embedding: defaults with the given issuer, database and key.
    pub fn for_tests(issuer: Url, database_url: String, master_key: MasterKey) -> Settings {
        Settings {
            issuer,
            listen: ([127, 0, 0, 1], 0).into(),
            database_url,
            master_key,
            trusted_proxies: Vec::new(),
            session_idle_timeout: Duration::from_secs(8 * 3600),
            session_max_lifetime: Duration::from_secs(12 * 3600),
            access_token_ttl: Duration::from_secs(3600),
            refresh_token_ttl: Duration::from_secs(21 * 24 * 3600),
            key_publish_lead: Duration::from_secs(300),
            code_ttl: Duration::from_secs(60),
            interaction_ttl: Duration::from_secs(30 * 60),
            log_format: LogFormat::Text,
            password_cost: crate::crypto::password::HashCost::OWASP,
            smtp_url: None,
            mail_from: DEFAULT_MAIL_FROM.to_owned(),
            outbox_dir: PathBuf::from("data/outbox"),
            reset_link_ttl: Duration::from_secs(30 * 60),
            invitation_ttl: Duration::from_secs(7 * 86400),
            mfa_issuer: DEFAULT_MFA_ISSUER.to_owned(),
            metrics_token: None,
            upstreams: Vec::new(),
        }
    }

    /// The issuer as published: no trailing slash (Discovery §4.3 compares it byte for byte).
    pub fn issuer_str(&self) -> String {
        self.issuer.as_str().trim_end_matches('/').to_owned()
    }

    /// Cookies may drop `Secure` (and so the `__Host-` prefix) only for an http loopback issuer.
    pub fn cookies_secure(&self) -> bool {
        !(self.issuer.scheme() == "http" && is_loopback_host(&self.issuer))
    }
}

fn read_file(path: &PathBuf) -> Result<FileSettings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

fn read_master_key_file(path: &PathBuf) -> Result<MasterKey, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::MasterKey {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    MasterKey::parse(&text).map_err(|e| ConfigError::MasterKey {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// The development master key: read from `keys/dev-master.key`, generated there (mode 0600) on
/// first use. Production sets `FIRMGATE_MASTER_KEY` or `FIRMGATE_MASTER_KEY_FILE`.
fn dev_master_key(path: &PathBuf) -> Result<MasterKey, ConfigError> {
    if path.exists() {
        return read_master_key_file(path);
    }
    let fail = |e: std::io::Error| ConfigError::MasterKey {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let key = MasterKey::generate();
    write_private_file(path, &key.to_hex()).map_err(fail)?;
    tracing::warn!(path = %path.display(), "generated a development master key; set FIRMGATE_MASTER_KEY in production");
    Ok(key)
}

#[cfg(unix)]
fn write_private_file(path: &PathBuf, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private_file(path: &PathBuf, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

fn parse_issuer(text: &str) -> Result<Url, ConfigError> {
    let invalid = |reason: &str| ConfigError::Invalid {
        name: "issuer",
        reason: format!("{text:?}: {reason}"),
    };
    let url = Url::parse(text).map_err(|_| invalid("not a URL"))?;
    if url.scheme() != "https" && !(url.scheme() == "http" && is_loopback_host(&url)) {
        return Err(invalid(
            "must be https (http only for 127.0.0.1, [::1] or localhost)",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "must have no query or fragment (OIDC Discovery §3)",
        ));
    }
    if text.ends_with('/') {
        return Err(invalid("must not end with a slash"));
    }
    Ok(url)
}

pub fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Parses `30m`, `8h`, `21d`, `60s` (and combinations humantime accepts).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text.trim())
        .map_err(|e| format!("{text:?} is not a duration like 30m or 8h: {e}"))?;
    if d.is_zero() {
        return Err(format!("{text:?} must be longer than zero"));
    }
    Ok(d)
}

/// Parses a comma-separated CIDR list (a bare address means a single host).
pub fn parse_cidrs(text: &str) -> Result<Vec<IpNet>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{s:?} is not an IP address or CIDR"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut e: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        e.entry("FIRMGATE_MASTER_KEY".into())
            .or_insert_with(|| MasterKey::generate().to_hex());
        e
    }

    #[test]
    fn flags_beat_environment_beat_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f.toml");
        std::fs::write(
            &file,
            "issuer = \"https://file.example\"\nlisten = \"127.0.0.1:9000\"\naccess_token_ttl = \"30m\"\n",
        )
        .unwrap();
        let flags = FlagSettings {
            config: Some(file),
            issuer: Some("https://flag.example".into()),
            ..Default::default()
        };
        let s = Settings::from_sources(
            &flags,
            &env(&[
                ("FIRMGATE_ISSUER", "https://env.example"),
                ("FIRMGATE_LISTEN", "127.0.0.1:9100"),
            ]),
        )
        .unwrap();
        assert_eq!(s.issuer_str(), "https://flag.example");
        assert_eq!(s.listen.port(), 9100);
        assert_eq!(s.access_token_ttl, Duration::from_secs(1800));
        assert!(s.cookies_secure());
    }

    #[test]
    fn a_metrics_token_must_be_long_and_unspaced() {
        let with = |v: &str| {
            Settings::from_sources(
                &FlagSettings::default(),
                &env(&[("FIRMGATE_METRICS_TOKEN", v)]),
            )
        };
        assert!(with("short").is_err());
        assert!(with(&format!("{} x", "a".repeat(40))).is_err());
        let token = "f".repeat(32);
        let s = with(&token).unwrap();
        assert_eq!(s.metrics_token.map(|t| t.expose().to_owned()), Some(token));
        let none = Settings::from_sources(&FlagSettings::default(), &env(&[])).unwrap();
        assert!(none.metrics_token.is_none());
    }

    #[test]
    fn unknown_settings_are_errors() {
        let err =
            Settings::from_sources(&FlagSettings::default(), &env(&[("FIRMGATE_ISUER", "x")]))
                .unwrap_err();
        assert!(err.to_string().contains("FIRMGATE_ISUER"));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f.toml");
        std::fs::write(&file, "isuer = \"https://x.example\"\n").unwrap();
        let flags = FlagSettings {
            config: Some(file),
            ..Default::default()
        };
        assert!(Settings::from_sources(&flags, &env(&[])).is_err());
    }

    #[test]
    fn issuer_must_be_https_or_loopback_without_trailing_slash() {
        for bad in [
            "http://example.com",
            "https://x.example/",
            "https://x.example?a=1",
            "nonsense",
        ] {
            assert!(
                Settings::from_sources(&FlagSettings::default(), &env(&[("FIRMGATE_ISSUER", bad)]))
                    .is_err(),
                "{bad}"
            );
        }
        let s = Settings::from_sources(
            &FlagSettings::default(),
            &env(&[("FIRMGATE_ISSUER", "http://localhost:8080")]),
        )
        .unwrap();
        assert!(!s.cookies_secure());
    }

    #[test]
    fn upstreams_come_from_environment_and_file() {
        let load =
            |pairs: &[(&str, &str)]| Settings::from_sources(&FlagSettings::default(), &env(pairs));
        let none = load(&[("FIRMGATE_MASTER_KEY", &"ab".repeat(32))]).unwrap();
        assert!(none.upstreams.is_empty(), "no client id, no upstream");
        let ms = load(&[
            ("FIRMGATE_MASTER_KEY", &"ab".repeat(32)),
            ("FIRMGATE_MICROSOFT_CLIENT_ID", "app-id"),
            ("FIRMGATE_MICROSOFT_CLIENT_SECRET", "s3cret"),
        ])
        .unwrap();
        let [m] = ms.upstreams.as_slice() else {
            panic!("one upstream")
        };
        assert_eq!(m.name, "microsoft");
        assert_eq!(m.discovery_url.as_str(), MICROSOFT_DISCOVERY_URL);
        assert!(
            !format!("{m:?}").contains("s3cret"),
            "the secret is never printed"
        );
        let without_secret = load(&[
            ("FIRMGATE_MASTER_KEY", &"ab".repeat(32)),
            ("FIRMGATE_GOOGLE_CLIENT_ID", "app-id"),
        ]);
        assert!(without_secret.is_err());
        for bad in [
            "http://accounts.example",
            "https://a.example/?x=1",
            "not a url",
        ] {
            let r = load(&[
                ("FIRMGATE_MASTER_KEY", &"ab".repeat(32)),
                ("FIRMGATE_GOOGLE_CLIENT_ID", "id"),
                ("FIRMGATE_GOOGLE_CLIENT_SECRET", "s"),
                ("FIRMGATE_GOOGLE_DISCOVERY_URL", bad),
            ]);
            assert!(r.is_err(), "{bad}");
        }
        let dir = tempfile_dir();
        let file = dir.join("firmgate.toml");
        std::fs::write(
            &file,
            "master_key = \"".to_owned()
                + &"cd".repeat(32)
                + "\"\n[[upstream]]\nname = \"okta\"\nlabel = \"Okta\"\n\
             client_id = \"c\"\nclient_secret = \"s\"\ndiscovery_url = \"https://okta.example\"\n",
        )
        .unwrap();
        let flags = FlagSettings {
            config: Some(file.clone()),
            ..FlagSettings::default()
        };
        let from_file = Settings::from_sources(&flags, &env(&[])).unwrap();
        assert_eq!(from_file.upstreams[0].name, "okta");
        assert_eq!(from_file.upstreams[0].label, "Okta");
        std::fs::write(
            &file,
            "[[upstream]]\nname = \"microsoft\"\nclient_id = \"c\"\nclient_secret = \"s\"\ndiscovery_url = \"https://x.example\"\n",
        )
        .unwrap();
        assert!(
            Settings::from_sources(&flags, &env(&[])).is_err(),
            "reserved name"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "firmgate-config-{}",
            crate::crypto::bearer::random_id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn durations_and_cidrs_parse() {
        assert_eq!(parse_duration("8h").unwrap(), Duration::from_secs(28800));
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("eight hours").is_err());
        assert_eq!(parse_cidrs("10.0.0.0/8, 127.0.0.1").unwrap().len(), 2);
        assert!(parse_cidrs("10.0.0.0/33").is_err());
    }
}
