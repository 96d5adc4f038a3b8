//! Token introspection (RFC 7662). The caller must authenticate as a client and learns only
//! about its own tokens; anything else, revoked or expired is `{"active": false}` and nothing
//! more (§2.2).

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::access_token::{self, looks_like_jwt, AccessTokenError};
use super::client_auth;
use super::token::parse_form;
use crate::app::AppState;
use crate::crypto::bearer::{BearerToken, TokenKind};
use crate::error::OAuthError;
use crate::store::clients::ClientRecord;
use crate::web::client_ip::RequestActor;

pub async fn introspect(
    State(state): State<AppState>,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    body: String,
) -> Result<Response, OAuthError> {
    let form = parse_form(&headers, &body)?;
    let client = client_auth::authenticate(&state, &headers, &form, &actor).await?;
    let token = form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    let answer = if looks_like_jwt(token) {
        access_token_info(&state, &client, token).await?
    } else {
        refresh_token_info(&state, &client, token).await?
    };
    let mut res = axum::Json(answer.unwrap_or_else(|| json!({"active": false}))).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

async fn access_token_info(
    state: &AppState,
    client: &ClientRecord,
    token: &str,
) -> Result<Option<Value>, OAuthError> {
    let claims = match access_token::verify(state, token).await {
        Ok(c) => c,
        Err(AccessTokenError::Store(e)) => return Err(e.into()),
        Err(_) => return Ok(None),
    };
    if claims.get("client_id").and_then(Value::as_str) != Some(client.id.as_str()) {
        return Ok(None);
    }
    let mut out = serde_json::Map::new();
    out.insert("active".into(), json!(true));
    out.insert("token_type".into(), json!("Bearer"));
    for name in [
        "scope",
        "client_id",
        "sub",
        "exp",
        "iat",
        "iss",
        "aud",
        "jti",
        "auth_time",
        "firm_id",
        "firm_name",
        "role",
    ] {
        if let Some(v) = claims.get(name) {
            out.insert(name.into(), v.clone());
        }
    }
    Ok(Some(Value::Object(out)))
}

async fn refresh_token_info(
    state: &AppState,
    client: &ClientRecord,
    token: &str,
) -> Result<Option<Value>, OAuthError> {
    let now = state.clock.now();
    let hash = BearerToken::from_presented(token).hash(TokenKind::RefreshToken);
    let Some(record) = state.store.refresh_token(&hash).await? else {
        return Ok(None);
    };
    let Some(grant) = state.store.grant(&record.grant_id).await? else {
        return Ok(None);
    };
    if grant.client_id != client.id
        || grant.revoked_at.is_some()
        || record.used_at.is_some()
        || now >= record.expires_at
    {
        return Ok(None);
    }
    Ok(Some(json!({
        "active": true,
        "token_type": "refresh_token",
        "scope": grant.scope,
        "client_id": grant.client_id,
        "sub": grant.person_id,
        "iat": record.created_at,
        "exp": record.expires_at,
        "iss": state.issuer(),
    })))
}
