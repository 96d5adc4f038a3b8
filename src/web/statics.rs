//! The stylesheet, the favicon and the two small scripts (form_post auto-submit, the live password strength), served by
//! firmgate itself so pages load nothing from another origin.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::app::AppState;

const STYLESHEET: &str = include_str!("../../static/firmgate.css");
const AUTOSUBMIT: &str = include_str!("../../static/autosubmit.js");
const STRENGTH: &str = include_str!("../../static/strength.js");
const FAVICON: &str = include_str!("../../static/favicon.svg");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/static/firmgate.css", get(stylesheet))
        .route("/static/autosubmit.js", get(autosubmit))
        .route("/static/strength.js", get(strength))
        .route("/favicon.ico", get(favicon))
        .route("/static/favicon.svg", get(favicon))
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
}

async fn autosubmit() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        AUTOSUBMIT,
    )
}

async fn strength() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STRENGTH,
    )
}

async fn favicon() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        FAVICON,
    )
}
