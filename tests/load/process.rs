//! firmgate as a child process: the real binary on a real port over a database a test seeded,
//! started, killed and restarted at will; and a sign-in journey that tolerates the server
//! going away mid-way (as a browser would: the person starts again).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};

use crate::support::*;

pub struct Node {
    child: Option<Child>,
    pub port: u16,
    pub database_url: String,
    master_key: String,
    /// Further `FIRMGATE_*` settings (SMTP, trusted proxies, ...).
    env: Vec<(&'static str, String)>,
    pub log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Node {
    /// A node for the database `seed` made (not started yet).
    pub fn for_database(seed: &TestServer, env: Vec<(&'static str, String)>) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Node {
            child: None,
            port,
            database_url: seed.state.settings.database_url.clone(),
            master_key: seed.state.settings.master_key.to_hex(),
            env,
            log: dir.path().join("firmgate.log"),
            _dir: dir,
        }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts the binary; its log (JSON) goes to `self.log`.
    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_firmgate"));
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("FIRMGATE_")) {
            cmd.env_remove(k);
        }
        let dir = self.log.parent().unwrap();
        self.child = Some(
            cmd.current_dir(dir)
                .env("FIRMGATE_DATABASE_URL", &self.database_url)
                .env("FIRMGATE_MASTER_KEY", &self.master_key)
                .env("FIRMGATE_ISSUER", format!("http://127.0.0.1:{}", self.port))
                .env("FIRMGATE_LISTEN", format!("127.0.0.1:{}", self.port))
                .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
                .env("FIRMGATE_LOG_FORMAT", "json")
                .env("FIRMGATE_LOG", "debug,sqlx=warn,hyper=warn,lettre=warn")
                .arg("serve")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        );
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Waits (bounded) until /readyz answers 200.
    pub async fn ready(&self, http: &Client) {
        let started = Instant::now();
        loop {
            let url = format!("http://127.0.0.1:{}/readyz", self.port);
            if let Ok(res) = http.get(url).send().await {
                if res.status() == StatusCode::OK {
                    return;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "not ready in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A browser at `base`, coming through the trusted proxy as `forwarded_for` when given.
pub fn browser(base: &str, forwarded_for: Option<&str>) -> Browser {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(ip) = forwarded_for {
        headers.insert("x-forwarded-for", ip.parse().unwrap());
    }
    Browser::at(base, headers)
}

/// A sign-in through the pages; None when the server went away on the way.
pub async fn code_from_journey(b: &Browser, fx: &Fixture) -> Option<(String, String)> {
    let req = AuthRequest::new(&fx.client_id);
    let mut res = b
        .http
        .get(format!("{}/authorize?{}", b.base, req.query()))
        .send()
        .await
        .ok()?;
    for _ in 0..8 {
        let loc = location(&res);
        if res.status().is_redirection() {
            if loc.starts_with(REDIRECT) {
                return Some((query_param(&loc, "code")?, req.verifier));
            }
            res = b.http.get(format!("{}{loc}", b.base)).send().await.ok()?;
            continue;
        }
        let status = res.status();
        let path = res.url().path().to_owned();
        let html = res.text().await.ok()?;
        assert_eq!(status, StatusCode::OK, "{path}: {html}");
        let form: Vec<(&str, String)> = if path.ends_with("/signin/login") {
            vec![
                ("email", fx.email.clone()),
                ("password", PASSWORD.to_owned()),
            ]
        } else if path.ends_with("/signin/consent") {
            vec![("decision", "allow".to_owned())]
        } else {
            panic!("unexpected page {path}: {html}");
        };
        let mut fields = vec![
            ("csrf", hidden(&html, "csrf")?),
            ("interaction", hidden(&html, "interaction")?),
        ];
        fields.extend(form);
        res = b
            .http
            .post(format!("{}{path}", b.base))
            .form(&fields)
            .send()
            .await
            .ok()?;
    }
    panic!("the journey did not end");
}
