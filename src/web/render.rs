//! Rendering pages and redirects. Redirects after a POST use 303 (RFC 9700 §4.12: never 307).

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use crate::error::PageError;

pub fn page<T: Template>(template: &T) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed to render");
            PageError::internal().into_response()
        }
    }
}

pub fn page_with_status<T: Template>(status: StatusCode, template: &T) -> Response {
    let mut res = page(template);
    if res.status().is_success() {
        *res.status_mut() = status;
    }
    res
}

/// 303 See Other to `location`.
pub fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => (StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response(),
        Err(_) => PageError::internal().into_response(),
    }
}

/// Appends `Set-Cookie` headers to a response.
pub fn with_cookies(
    mut res: Response,
    cookies: impl IntoIterator<Item = Option<HeaderValue>>,
) -> Response {
    for c in cookies.into_iter().flatten() {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}
