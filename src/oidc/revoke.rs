//! Token revocation (RFC 7009). A refresh token revokes its whole grant, with every access token
//! of it (§2.1 SHOULD); an access token is revoked by its `jti`. Unknown or invalid tokens get
//! 200 (§2.2); a token of another client is refused and left alone (§2.1); a storage failure is
//! an error, never a false success.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

use super::access_token::{self, looks_like_jwt, AccessTokenError};
use super::client_auth;
use super::token::parse_form;
use crate::app::AppState;
use crate::audit::{self, AuditEvent};
use crate::crypto::bearer::{BearerToken, TokenKind};
use crate::error::OAuthError;
use crate::web::client_ip::RequestActor;

fn not_yours() -> OAuthError {
    OAuthError::new(
        "unauthorized_client",
        "the token was not issued to this client",
    )
}

pub async fn revoke(
    State(state): State<AppState>,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    body: String,
) -> Result<StatusCode, OAuthError> {
    let form = parse_form(&headers, &body)?;
    let client = client_auth::authenticate(&state, &headers, &form, &actor).await?;
    let token = form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    let now = state.clock.now();
    if looks_like_jwt(token) {
        let claims = match access_token::decode(&state, token) {
            Ok(c) => c,
            Err(AccessTokenError::Store(e)) => return Err(e.into()),
            Err(_) => return Ok(StatusCode::OK),
        };
        if claims.get("client_id").and_then(Value::as_str) != Some(client.id.as_str()) {
            return Err(not_yours());
        }
        let jti = claims
            .get("jti")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(now);
        state.store.revoke_access_token(jti, exp).await?;
        audit::record(
            &state.store,
            AuditEvent::TokenRevoked {
                client_id: &client.id,
                what: "access_token",
            },
            &actor,
            now,
        )
        .await?;
        return Ok(StatusCode::OK);
    }
    let hash = BearerToken::from_presented(token).hash(TokenKind::RefreshToken);
    let Some(record) = state.store.refresh_token(&hash).await? else {
        return Ok(StatusCode::OK);
    };
    let Some(grant) = state.store.grant(&record.grant_id).await? else {
        return Ok(StatusCode::OK);
    };
    if grant.client_id != client.id {
        return Err(not_yours());
    }
    state
        .store
        .revoke_grant(&grant.id, now, "revoked by the client")
        .await?;
    audit::record(
        &state.store,
        AuditEvent::TokenRevoked {
            client_id: &client.id,
            what: "refresh_token",
        },
        &actor,
        now,
    )
    .await?;
    Ok(StatusCode::OK)
}
