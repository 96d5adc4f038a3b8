//! The ceiling the benchmark compares firmgate with: an axum server answering every GET with
//! the same fixed bytes, on the same runtime and machine. `cargo run --release --example
//! fixed_bytes -- 127.0.0.1:9000 [BODY_FILE]` (used by benches/run). With no file it serves a
//! 64-byte JSON body (the ceiling the targets are stated against); with one, that file's bytes,
//! so a response of the same size as firmgate's can be measured beside it.

use axum::routing::get;
use axum::Router;

const BODY: &[u8] = br#"{"issuer":"http://127.0.0.1","jwks_uri":"http://127.0.0.1/jwks"}"#;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:9000".to_owned());
    let body = match args.next() {
        Some(path) => axum::body::Bytes::from(std::fs::read(path)?),
        None => axum::body::Bytes::from_static(BODY),
    };
    let app = Router::new().route(
        "/{*path}",
        get(move || {
            let body = body.clone();
            async move { ([("content-type", "application/json")], body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await
}
