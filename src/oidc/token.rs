//! The token endpoint (RFC 6749 §3.2, §5): parse the form once, authenticate the client, hand
//! the request to its grant. Every answer is JSON with `Cache-Control: no-store`.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::client_auth;
use super::grants;
use crate::app::AppState;
use crate::error::OAuthError;
use crate::web::client_ip::RequestActor;
use crate::web::params::Params;

#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl IntoResponse for TokenResponse {
    fn into_response(self) -> Response {
        let mut res = axum::Json(self).into_response();
        let h = res.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        res
    }
}

/// Parses an `application/x-www-form-urlencoded` body, refusing other types, floods,
/// duplicated parameters (RFC 6749 §3.2) and oversized values.
pub fn parse_form(headers: &HeaderMap, body: &str) -> Result<Params, OAuthError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let params =
        Params::parse(body).map_err(|_| OAuthError::invalid_request("too many parameters"))?;
    if let Some(name) = params.first_oversized() {
        return Err(OAuthError::invalid_request(format!(
            "the {name} parameter is too long"
        )));
    }
    if let Some(name) = params.first_duplicate() {
        if name != "client_id" && name != "client_secret" {
            return Err(OAuthError::invalid_request(format!(
                "the {name} parameter was sent more than once"
            )));
        }
    }
    Ok(params)
}

pub async fn token(
    State(state): State<AppState>,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    body: String,
) -> Result<TokenResponse, OAuthError> {
    let form = parse_form(&headers, &body)?;
    let client = client_auth::authenticate(&state, &headers, &form, &actor).await?;
    let grant_type = form
        .get("grant_type")
        .ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
    if !client.grant_types.iter().any(|g| g == grant_type)
        && matches!(
            grant_type,
            "authorization_code" | "refresh_token" | "client_credentials"
        )
    {
        return Err(OAuthError::new(
            "unauthorized_client",
            format!("this client may not use the {grant_type} grant"),
        ));
    }
    match grant_type {
        "authorization_code" => {
            grants::authorization_code::redeem(&state, &client, &form, &actor).await
        }
        "refresh_token" => grants::refresh_token::refresh(&state, &client, &form, &actor).await,
        "client_credentials" => grants::client_credentials::issue(&state, &client),
        // RFC 9700 §2.4: the password grant MUST NOT be used; nor anything else unknown.
        _ => Err(OAuthError::new(
            "unsupported_grant_type",
            "supported grants: authorization_code, refresh_token, client_credentials",
        )),
    }
}
