//! Limits that keep slow or huge requests from tying the server up, driven over a raw socket
//! as an attacker would: headers that never finish, headers that never end. (Body size and
//! hostile parameters have their tests beside each endpoint.) [RFC 6585 §5; RFC 9110 §15.5.9]

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

async fn connect(server: &TestServer) -> TcpStream {
    TcpStream::connect(server.base.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Reads until the server closes the connection or `limit` passes; returns what came and
/// whether the server closed.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), false),
        }
    }
}

#[tokio::test]
async fn headers_that_never_finish_are_cut_off_after_ten_seconds() {
    let server = TestServer::start().await;
    let mut slow = connect(&server).await;
    let started = Instant::now();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .unwrap();
    let (_, closed) = read_until_closed(&mut slow, Duration::from_secs(20)).await;
    let waited = started.elapsed();
    assert!(closed, "the connection was still open after 20 s");
    assert!(
        (Duration::from_secs(9)..Duration::from_secs(15)).contains(&waited),
        "closed after {waited:?}"
    );
    // Meanwhile everyone else is served.
    let res = server
        .backchannel()
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::OK);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let server = TestServer::start().await;
    let mut idle = connect(&server).await;
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let (_, closed) = read_until_closed(&mut idle, Duration::from_secs(20)).await;
    assert!(closed, "an idle connection stayed open for 20 s");
}

#[tokio::test]
async fn headers_over_64_kib_get_431_and_no_more_is_read() {
    let server = TestServer::start().await;
    let mut big = connect(&server).await;
    let filler = "a".repeat(1024);
    let mut request = String::from("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for i in 0..80 {
        request.push_str(&format!("X-Filler-{i}: {filler}\r\n"));
    }
    request.push_str("\r\n");
    // The server may close while we still write; what it answered is what counts.
    let _ = big.write_all(request.as_bytes()).await;
    let (answer, closed) = read_until_closed(&mut big, Duration::from_secs(5)).await;
    assert!(
        answer.starts_with("HTTP/1.1 431"),
        "{}",
        answer.lines().next().unwrap_or("(nothing)")
    );
    assert!(closed);
}
