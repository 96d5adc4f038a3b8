//! The ceiling the benchmark compares firmgate with: an axum server answering every GET with
//! the same fixed bytes, on the same runtime and machine. `cargo run --release --example
//! fixed_bytes -- 127.0.0.1:9000` (used by benches/run).

use axum::routing::get;
use axum::Router;

const BODY: &[u8] = br#"{"issuer":"http://127.0.0.1","jwks_uri":"http://127.0.0.1/jwks"}"#;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9000".to_owned());
    let app = Router::new().route(
        "/{*path}",
        get(|| async { ([("content-type", "application/json")], BODY) }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await
}
