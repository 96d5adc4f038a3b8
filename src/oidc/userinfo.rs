//! The UserInfo endpoint (OIDC Core §5.3), GET or POST, with the access token as a Bearer header
//! or (POST only) a form field (RFC 6750 §2.1-2.2). Failures are 401 with a `WWW-Authenticate`
//! challenge (RFC 6750 §3).

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::access_token::{self, AccessTokenError};
use super::claims::{firm_claims, person_claims, requested};
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent};
use crate::error::OAuthError;
use crate::web::client_ip::RequestActor;
use crate::web::params::Params;

pub(crate) fn bearer(headers: &HeaderMap) -> Result<Option<String>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| OAuthError::invalid_token("malformed Authorization header"))?;
    match text.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim().to_owned()))
        }
        _ => Err(OAuthError::invalid_token("use the Bearer scheme")),
    }
}

fn no_token() -> Response {
    // RFC 6750 §3.1: a request with no credentials gets a challenge without an error code.
    let mut res = (
        StatusCode::UNAUTHORIZED,
        axum::Json(
            json!({"error": "invalid_token", "error_description": "an access token is required"}),
        ),
    )
        .into_response();
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"firmgate\""),
    );
    res
}

pub async fn userinfo(
    State(state): State<AppState>,
    RequestActor(actor): RequestActor,
    method: Method,
    headers: HeaderMap,
    body: String,
) -> Response {
    let from_header = match bearer(&headers) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let from_body = if method == Method::POST && !body.is_empty() {
        match Params::parse(&body) {
            Ok(p) => p.get("access_token").map(str::to_owned),
            Err(_) => return OAuthError::invalid_request("too many parameters").into_response(),
        }
    } else {
        None
    };
    let token = match (from_header, from_body) {
        (Some(_), Some(_)) => {
            return OAuthError::invalid_request("send the access token once").into_response()
        }
        (Some(t), None) | (None, Some(t)) => t,
        (None, None) => return no_token(),
    };
    match answer(&state, &token, &actor).await {
        Ok(v) => {
            let mut res = axum::Json(v).into_response();
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Err(e) => e.into_response(),
    }
}

/// UserInfo claims for `token`, for in-process callers (the demo), on behalf of `actor`.
pub async fn claims_for(state: &AppState, token: &str, actor: &Actor) -> Result<Value, OAuthError> {
    answer(state, token, actor).await
}

async fn answer(state: &AppState, token: &str, actor: &Actor) -> Result<Value, OAuthError> {
    let claims = access_token::verify(state, token)
        .await
        .map_err(|e| match e {
            AccessTokenError::Store(s) => OAuthError::from(s),
            other => OAuthError::invalid_token(other.to_string()),
        })?;
    let scope = claims.get("scope").and_then(Value::as_str).unwrap_or("");
    let scopes: Vec<&str> = scope.split(' ').collect();
    if !scopes.contains(&"openid") {
        return Err(OAuthError {
            status: StatusCode::FORBIDDEN,
            code: "insufficient_scope",
            description: "the access token was not issued for openid".into(),
            authenticate: Some(
                "Bearer realm=\"firmgate\", error=\"insufficient_scope\", scope=\"openid\"".into(),
            ),
        });
    }
    let sub = claims.get("sub").and_then(Value::as_str).unwrap_or("");
    let person = state
        .store
        .person(sub)
        .await?
        .ok_or_else(|| OAuthError::invalid_token("the user no longer exists"))?;
    let gid = claims.get("gid").and_then(Value::as_str).unwrap_or("");
    let grant = state
        .store
        .grant(gid)
        .await?
        .ok_or_else(|| OAuthError::invalid_token("the grant no longer exists"))?;
    if let Some(firm_id) = grant.firm_id.as_deref() {
        // The firm's IP allowlist applies to UserInfo too; refusals are audited.
        let policy = state.store.firm_policy(firm_id).await?.unwrap_or_default();
        if !policy.network_allows(actor.ip.as_deref().and_then(|ip| ip.parse().ok())) {
            audit::record(
                &state.store,
                AuditEvent::PolicyRefused {
                    person_id: &person.id,
                    firm_id,
                    client_id: &grant.client_id,
                    rule: "ip_allowlist",
                },
                actor,
                state.clock.now(),
            )
            .await?;
            return Err(OAuthError::invalid_token(
                "the firm does not allow access from this network",
            ));
        }
    }
    let mut out = serde_json::Map::new();
    out.insert("sub".into(), json!(person.id));
    out.extend(person_claims(
        &person,
        &scopes,
        &requested(grant.claims.as_deref(), "userinfo"),
    ));
    if let Some(firm_id) = grant.firm_id.as_deref() {
        if let Some(m) = state.store.membership(firm_id, &person.id).await? {
            out.extend(firm_claims(&m));
        }
    }
    Ok(Value::Object(out))
}
