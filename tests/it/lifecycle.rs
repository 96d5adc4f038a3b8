//! The process from outside: `firmgate serve` (the real binary) on a real port, stopped with
//! SIGTERM while a request is half sent. It must stop accepting, finish that request, exit 0,
//! and its JSON log must carry request ids and no secret that was sent to it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Served {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start() -> Served {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_firmgate"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("FIRMGATE_")) {
        cmd.env_remove(k);
    }
    let child = cmd
        .current_dir(dir.path())
        .env(
            "FIRMGATE_DATABASE_URL",
            format!("sqlite://{}?mode=rwc", dir.path().join("fg.db").display()),
        )
        .env(
            "FIRMGATE_MASTER_KEY",
            firmgate::crypto::secret_box::MasterKey::generate().to_hex(),
        )
        .env("FIRMGATE_ISSUER", format!("http://127.0.0.1:{port}"))
        .env("FIRMGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env("FIRMGATE_LOG_FORMAT", "json")
        .env("FIRMGATE_LOG", "debug,sqlx=warn,hyper=warn")
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let served = Served {
        child,
        port,
        _dir: dir,
    };
    let started = Instant::now();
    while get(port, "/readyz").map(|r| !r.starts_with("HTTP/1.1 200")) != Some(false) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "not ready in 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    served
}

/// One GET over a fresh connection; None when nothing listens.
fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

#[test]
fn sigterm_finishes_the_request_in_flight_then_exits_zero() {
    let mut served = start();
    let port = served.port;
    let secret = "s3cret-value-that-must-not-be-logged";
    let body = format!("grant_type=client_credentials&client_id=nobody&client_secret={secret}");
    let (first, rest) = body.split_at(20);
    let mut in_flight = TcpStream::connect(("127.0.0.1", port)).unwrap();
    in_flight
        .write_all(
            format!(
                "POST /token HTTP/1.1\r\nHost: x\r\nX-Request-Id: in-flight-1\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{first}",
                body.len()
            )
            .as_bytes(),
        )
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let pid = served.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    // Stopped accepting: a new connection is refused (or closed unanswered).
    let started = Instant::now();
    while get(port, "/healthz").is_some_and(|r| r.starts_with("HTTP/1.1 200")) {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still accepting"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The request in flight is finished and answered in full (RFC 6749 §5.2: unknown client).
    in_flight.write_all(rest.as_bytes()).unwrap();
    let mut answer = String::new();
    in_flight.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("\"error\":\"invalid_client\""), "{answer}");
    assert!(answer
        .to_ascii_lowercase()
        .contains("x-request-id: in-flight-1"));

    let started = Instant::now();
    let status = loop {
        if let Some(status) = served.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "did not exit within 20 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");
    let mut log = String::new();
    served
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(!log.contains(secret), "a secret was logged");
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let served_line = lines
        .iter()
        .find(|l| l["span"]["id"] == "in-flight-1" && l["fields"]["status"] == 401)
        .unwrap_or_else(|| panic!("no log line for the request in flight:\n{log}"));
    assert_eq!(served_line["span"]["route"], "/token");
    assert!(lines.iter().any(|l| l["fields"]["message"] == "stopped"));
}
