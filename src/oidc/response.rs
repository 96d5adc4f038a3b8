//! The authorization response (RFC 6749 §4.1.2, §4.1.2.1) in the two response modes firmgate
//! supports: `query` (a 303 redirect) and `form_post` (OAuth 2.0 Form Post Response Mode, an
//! auto-submitted form). Every response carries `iss` (RFC 9207).

use askama::Template;
use axum::response::Response;
use url::Url;

use super::request::ResponseMode;
use crate::error::PageError;
use crate::web::render;
use axum::response::IntoResponse;

#[derive(Template)]
#[template(path = "form_post.html")]
struct FormPost<'a> {
    action: &'a str,
    fields: &'a [(&'a str, String)],
}

/// Sends `fields` (plus `state` and `iss`) to the client's redirect_uri.
pub fn to_client(
    redirect_uri: &str,
    mode: ResponseMode,
    state: Option<&str>,
    issuer: &str,
    mut fields: Vec<(&str, String)>,
) -> Response {
    if let Some(s) = state {
        fields.push(("state", s.to_owned()));
    }
    fields.push(("iss", issuer.to_owned()));
    match mode {
        ResponseMode::Query => {
            let Ok(mut url) = Url::parse(redirect_uri) else {
                return PageError::internal().into_response();
            };
            {
                // The registered query, if any, is kept; parameters are appended to it.
                let mut q = url.query_pairs_mut();
                for (k, v) in &fields {
                    q.append_pair(k, v);
                }
            }
            render::see_other(url.as_str())
        }
        ResponseMode::FormPost => render::page(&FormPost {
            action: redirect_uri,
            fields: &fields,
        }),
    }
}

pub fn code(
    redirect_uri: &str,
    mode: ResponseMode,
    state: Option<&str>,
    issuer: &str,
    code: &str,
) -> Response {
    to_client(
        redirect_uri,
        mode,
        state,
        issuer,
        vec![("code", code.to_owned())],
    )
}

pub fn error(
    redirect_uri: &str,
    mode: ResponseMode,
    state: Option<&str>,
    issuer: &str,
    error: &str,
    description: &str,
) -> Response {
    to_client(
        redirect_uri,
        mode,
        state,
        issuer,
        vec![
            ("error", error.to_owned()),
            ("error_description", description.to_owned()),
        ],
    )
}
