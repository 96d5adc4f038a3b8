//! Security headers on every response: no framing (RFC 9700 §4.16), no referrer (§4.2.4), no
//! third-party resources (CSP allows only firmgate's own origin), no sniffing, and no caching of
//! anything that may carry a credential.
//!
//! One plain function over the response rather than a `from_fn` middleware or a layer per
//! header: it runs on every request, discovery and JWKS included, and each layer the router
//! applies is another boxed service cloned per request.

use axum::http::{header, HeaderValue};
use axum::response::Response;
use tower::util::MapResponseLayer;

/// `form-action` is left out on purpose: browsers apply it to the redirect that follows a
/// form POST, and the sign-in forms must be able to redirect to the relying party.
pub const CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Room for a handler's own few headers, these, and the request id: a handler that sizes its
/// header map with this spares the map a reallocation on the way out.
pub const RESPONSE_HEADERS: usize = 12;

pub type SecurityHeadersLayer = MapResponseLayer<fn(Response) -> Response>;

/// The layer that sets them on every response.
pub fn security_headers() -> SecurityHeadersLayer {
    MapResponseLayer::new(add_security_headers as fn(Response) -> Response)
}

/// These headers always, and `Cache-Control: no-store` unless the handler chose a caching
/// policy of its own (discovery, JWKS, static assets).
fn add_security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.reserve(5);
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
