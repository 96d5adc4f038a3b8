//! Security headers on every response: no framing (RFC 9700 §4.16), no referrer (§4.2.4), no
//! third-party resources (CSP allows only firmgate's own origin), no sniffing, and no caching of
//! anything that may carry a credential.
//!
//! They are plain tower layers rather than a `from_fn` middleware: these run on every request,
//! discovery and JWKS included, and a layer adds no boxed future and no service clone.

use axum::http::{header, HeaderValue};
use tower::layer::util::{Identity, Stack};
use tower::ServiceBuilder;
use tower_http::set_header::SetResponseHeaderLayer;

/// `form-action` is left out on purpose: browsers apply it to the redirect that follows a
/// form POST, and the sign-in forms must be able to redirect to the relying party.
pub const CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

type HeaderLayer = SetResponseHeaderLayer<HeaderValue>;
/// Five header layers, outermost first.
type SecurityHeaderLayers = Stack<
    HeaderLayer,
    Stack<HeaderLayer, Stack<HeaderLayer, Stack<HeaderLayer, Stack<HeaderLayer, Identity>>>>,
>;

/// The layers that set them: these headers always, and `Cache-Control: no-store` unless the
/// handler chose a caching policy of its own (discovery, JWKS, static assets).
pub fn security_headers() -> ServiceBuilder<SecurityHeaderLayers> {
    ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
}
