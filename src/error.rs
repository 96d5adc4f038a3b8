//! One error type per boundary. `OAuthError` is the JSON body of RFC 6749 §5.2 (token,
//! introspection, revocation, userinfo); `PageError` is the HTML error page shown when firmgate
//! must not redirect (unknown client, unregistered redirect_uri) or when a page step fails.
//! Neither has side effects in `IntoResponse`; internal details are logged, never shown.

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use crate::crypto::bearer::random_id;
use crate::store::StoreError;

#[derive(Debug, Clone)]
pub struct OAuthError {
    pub status: StatusCode,
    pub code: &'static str,
    pub description: String,
    /// `WWW-Authenticate` value, for 401 answers.
    pub authenticate: Option<String>,
}

impl OAuthError {
    pub fn new(code: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status: StatusCode::BAD_REQUEST,
            code,
            description: description.into(),
            authenticate: None,
        }
    }
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new("invalid_request", d)
    }
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new("invalid_grant", d)
    }
    /// RFC 6749 §5.2: 401, with a `WWW-Authenticate` challenge when Basic was used.
    pub fn invalid_client(d: impl Into<String>, used_basic: bool) -> Self {
        OAuthError {
            status: StatusCode::UNAUTHORIZED,
            code: "invalid_client",
            description: d.into(),
            authenticate: used_basic.then(|| "Basic realm=\"firmgate\"".to_owned()),
        }
    }
    /// RFC 6750 §3.1 for protected resources (userinfo).
    pub fn invalid_token(d: impl Into<String>) -> Self {
        let description: String = d.into();
        OAuthError {
            status: StatusCode::UNAUTHORIZED,
            code: "invalid_token",
            authenticate: Some(format!(
                "Bearer realm=\"firmgate\", error=\"invalid_token\", error_description=\"{}\"",
                description.replace(['"', '\\'], "'")
            )),
            description,
        }
    }
    pub fn temporarily_unavailable() -> Self {
        OAuthError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "temporarily_unavailable",
            description: "the service is temporarily unavailable; try again shortly".into(),
            authenticate: None,
        }
    }
    pub fn server_error() -> Self {
        OAuthError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "server_error",
            description: "the server could not complete the request".into(),
            authenticate: None,
        }
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store error at a protocol endpoint");
        match e {
            StoreError::Unavailable(_) => OAuthError::temporarily_unavailable(),
            _ => OAuthError::server_error(),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": self.code,
            "error_description": self.description,
        });
        let mut res = (self.status, axum::Json(body)).into_response();
        let h = res.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some(value) = self
            .authenticate
            .and_then(|v| HeaderValue::from_str(&v).ok())
        {
            h.insert(header::WWW_AUTHENTICATE, value);
        }
        res
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
    reference: &'a str,
}

/// An HTML error page that says what went wrong, with a reference to find it in the log.
#[derive(Debug, Clone)]
pub struct PageError {
    pub status: StatusCode,
    pub title: String,
    pub message: String,
}

impl PageError {
    pub fn bad_request(title: impl Into<String>, message: impl Into<String>) -> Self {
        PageError {
            status: StatusCode::BAD_REQUEST,
            title: title.into(),
            message: message.into(),
        }
    }
    pub fn forbidden(title: impl Into<String>, message: impl Into<String>) -> Self {
        PageError {
            status: StatusCode::FORBIDDEN,
            title: title.into(),
            message: message.into(),
        }
    }
    pub fn expired() -> Self {
        PageError::bad_request(
            "This sign-in has expired",
            "The sign-in you were completing is no longer valid (it expired, was finished in \
             another tab, or was started in another browser). Go back to the application and \
             start again.",
        )
    }
    pub fn csrf() -> Self {
        PageError::forbidden(
            "The form could not be accepted",
            "The form was missing its security token or came from another page. Reload the \
             page and try again.",
        )
    }
    pub fn not_found() -> Self {
        PageError {
            status: StatusCode::NOT_FOUND,
            title: "Page not found".into(),
            message: "There is no page at this address.".into(),
        }
    }
    pub fn unavailable() -> Self {
        PageError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            title: "Temporarily unavailable".into(),
            message: "firmgate cannot reach its database right now. Try again in a moment.".into(),
        }
    }
    pub fn internal() -> Self {
        PageError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            title: "Something went wrong".into(),
            message: "firmgate could not complete this request.".into(),
        }
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store error on a page");
        match e {
            StoreError::Unavailable(_) => PageError::unavailable(),
            _ => PageError::internal(),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let reference = random_id();
        if self.status.is_server_error() {
            tracing::warn!(%reference, title = %self.title, "error page shown");
        }
        let page = ErrorPage {
            title: &self.title,
            message: &self.message,
            reference: &reference,
        };
        match page.render() {
            Ok(html) => (self.status, Html(html)).into_response(),
            Err(_) => (self.status, self.title).into_response(),
        }
    }
}
