//! The admin JSON API under `/admin/api/firms/{firm}`: the console's operations for programs.
//! Authorised by a Bearer access token carrying the `firmgate:admin` scope, which firmgate
//! grants only to an admin or owner of the firm who signed in with a second factor; the token's
//! grant must be for the firm in the path, and the holder must still be its admin. A token for
//! another firm gets 404 (audited), a token without the scope 403 `insufficient_scope`, an
//! expired or revoked one 401 `invalid_token` (RFC 6750 §3.1). Described in docs/admin-api.yaml.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::console::is_admin_role;
use super::firms::{policy_json, set_policy, PolicyChange};
use super::members;
use super::AdminError;
use crate::account::{invitation, AccountError};
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent};
use crate::error::OAuthError;
use crate::oidc::access_token::{self, AccessTokenError};
use crate::oidc::request::ADMIN_SCOPE;
use crate::store::people::Membership;
use crate::web::client_ip::RequestActor;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/api/firms/{firm}/policy",
            get(get_policy).patch(patch_policy),
        )
        .route(
            "/admin/api/firms/{firm}/people",
            get(list_people).post(invite),
        )
        .route(
            "/admin/api/firms/{firm}/people/{person}",
            patch(change_role).delete(remove),
        )
        .route("/admin/api/firms/{firm}/audit", get(audit_rows))
}

fn not_found() -> OAuthError {
    OAuthError {
        status: StatusCode::NOT_FOUND,
        code: "not_found",
        description: "no such firm or person".into(),
        authenticate: None,
    }
}

fn insufficient_scope() -> OAuthError {
    OAuthError {
        status: StatusCode::FORBIDDEN,
        code: "insufficient_scope",
        description: format!("the access token lacks the {ADMIN_SCOPE} scope"),
        authenticate: Some(format!(
            "Bearer realm=\"firmgate\", error=\"insufficient_scope\", scope=\"{ADMIN_SCOPE}\""
        )),
    }
}

fn no_token() -> OAuthError {
    OAuthError {
        status: StatusCode::UNAUTHORIZED,
        code: "invalid_token",
        description: "an access token is required".into(),
        authenticate: Some("Bearer realm=\"firmgate\"".into()),
    }
}

/// The admin behind the token, for `firm_id`.
async fn authorise(
    state: &AppState,
    headers: &HeaderMap,
    actor: &Actor,
    firm_id: &str,
) -> Result<Membership, OAuthError> {
    let token = crate::oidc::userinfo::bearer(headers)?.ok_or_else(no_token)?;
    let claims = access_token::verify(state, &token)
        .await
        .map_err(|e| match e {
            AccessTokenError::Store(s) => OAuthError::from(s),
            other => OAuthError::invalid_token(other.to_string()),
        })?;
    let scope = claims.get("scope").and_then(Value::as_str).unwrap_or("");
    if !scope.split(' ').any(|s| s == ADMIN_SCOPE) {
        return Err(insufficient_scope());
    }
    let sub = claims.get("sub").and_then(Value::as_str).unwrap_or("");
    let gid = claims.get("gid").and_then(Value::as_str).unwrap_or("");
    let grant = state
        .store
        .grant(gid)
        .await?
        .filter(|g| g.revoked_at.is_none())
        .ok_or_else(|| OAuthError::invalid_token("the grant was revoked"))?;
    let membership = match grant.firm_id.as_deref() {
        Some(f) if f == firm_id => state
            .store
            .membership(firm_id, sub)
            .await?
            .filter(|m| is_admin_role(&m.role)),
        _ => None,
    };
    match membership {
        Some(m) => Ok(m),
        None => {
            audit::record(
                &state.store,
                AuditEvent::AdminAccessRefused {
                    person_id: sub,
                    firm_id: &firm_id.chars().take(64).collect::<String>(),
                    path: "admin api",
                },
                actor,
                state.clock.now(),
            )
            .await?;
            Err(not_found())
        }
    }
}

fn bad(description: String) -> OAuthError {
    OAuthError::invalid_request(description)
}

fn admin_error(e: AdminError) -> OAuthError {
    match e {
        AdminError::Invalid(why) => bad(why),
        AdminError::NoSuchFirm(_) | AdminError::NotInFirm(_) => not_found(),
        AdminError::Store(s) => s.into(),
        _ => OAuthError::server_error(),
    }
}

fn account_error(e: AccountError) -> OAuthError {
    match e {
        AccountError::Store(s) => s.into(),
        e if e.is_input_problem() => bad(e.to_string()),
        _ => OAuthError::server_error(),
    }
}

type ApiResult = Result<Response, OAuthError>;

async fn get_policy(
    State(state): State<AppState>,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    Path(firm_id): Path<String>,
) -> ApiResult {
    authorise(&state, &headers, &actor, &firm_id).await?;
    let firm = state.store.firm(&firm_id).await?.ok_or_else(not_found)?;
    Ok(Json(policy_json(&state, &firm).await.map_err(admin_error)?).into_response())
}

/// The settings a PATCH may carry; unknown fields are refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyPatch {
    mfa: Option<String>,
    require_sso: Option<String>,
    ip_allow: Option<String>,
    sign_in_hours: Option<String>,
    time_zone: Option<String>,
    idle_timeout_secs: Option<i64>,
    max_session_age_secs: Option<i64>,
    password_min_length: Option<i64>,
    password_max_age_days: Option<i64>,
    password_reuse_limit: Option<i64>,
    password_composition: Option<bool>,
    microsoft_tenants: Option<String>,
    google_domains: Option<String>,
    oidc_upstreams: Option<String>,
    email_domains: Option<String>,
    trust_upstream_mfa: Option<String>,
    sso_join: Option<bool>,
}

fn json_body<T: serde::de::DeserializeOwned>(body: &str) -> Result<T, OAuthError> {
    serde_json::from_str(body).map_err(|e| bad(format!("the JSON body is not valid: {e}")))
}

async fn patch_policy(
    State(state): State<AppState>,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    Path(firm_id): Path<String>,
    body: String,
) -> ApiResult {
    authorise(&state, &headers, &actor, &firm_id).await?;
    let p: PolicyPatch = json_body(&body)?;
    let change = PolicyChange {
        idle_timeout_secs: p.idle_timeout_secs,
        password_min_length: p.password_min_length,
        password_max_age_days: p.password_max_age_days,
        password_reuse_limit: p.password_reuse_limit,
        password_composition: p.password_composition,
        max_session_age_secs: p.max_session_age_secs,
        mfa: p.mfa,
        sso: p.require_sso,
        ip_allow: p.ip_allow,
        sign_in_hours: p.sign_in_hours,
        time_zone: p.time_zone,
        microsoft_tenants: p.microsoft_tenants,
        google_domains: p.google_domains,
        oidc_upstreams: p.oidc_upstreams,
        email_domains: p.email_domains,
        upstream_mfa: p.trust_upstream_mfa,
        sso_join: p.sso_join,
        exemptions: Vec::new(),
    };
    let firm = set_policy(&state, &firm_id, &change, &actor)
        .await
        .map_err(admin_error)?;
    Ok(Json(policy_json(&state, &firm).await.map_err(admin_error)?).into_response())
}

async fn list_people(
    State(state): State<AppState>,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    Path(firm_id): Path<String>,
) -> ApiResult {
    authorise(&state, &headers, &actor, &firm_id).await?;
    let people: Vec<Value> = state
        .store
        .firm_people(&firm_id)
        .await?
        .into_iter()
        .map(|p| {
            json!({
                "id": p.person_id,
                "name": p.name,
                "email": p.email,
                "role": p.role,
                "mfa": p.mfa_active != 0,
            })
        })
        .collect();
    Ok(Json(json!({ "people": people })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Invitation {
    email: String,
    name: String,
    #[serde(default = "member")]
    role: String,
}

fn member() -> String {
    "member".into()
}

async fn invite(
    State(state): State<AppState>,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    Path(firm_id): Path<String>,
    body: String,
) -> ApiResult {
    let admin = authorise(&state, &headers, &actor, &firm_id).await?;
    let i: Invitation = json_body(&body)?;
    if i.role == "owner" && admin.role != "owner" {
        return Err(bad("only an owner may invite an owner".into()));
    }
    let invited = invitation::invite(&state, &firm_id, &i.email, &i.name, &i.role, &actor)
        .await
        .map_err(account_error)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": invited.person.id, "new_person": invited.new_person })),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleChange {
    role: String,
}

/// The person, only if they belong to this firm (404 otherwise: other firms' ids reveal nothing).
async fn member_of(state: &AppState, firm_id: &str, person_id: &str) -> Result<(), OAuthError> {
    state
        .store
        .membership(firm_id, person_id)
        .await?
        .map(|_| ())
        .ok_or_else(not_found)
}

async fn change_role(
    State(state): State<AppState>,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    Path((firm_id, person_id)): Path<(String, String)>,
    body: String,
) -> ApiResult {
    let admin = authorise(&state, &headers, &actor, &firm_id).await?;
    member_of(&state, &firm_id, &person_id).await?;
    let r: RoleChange = json_body(&body)?;
    members::change_role(&state, &admin, &person_id, &r.role, &actor)
        .await
        .map_err(admin_error)?;
    Ok(Json(json!({ "id": person_id, "role": r.role })).into_response())
}

async fn remove(
    State(state): State<AppState>,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    Path((firm_id, person_id)): Path<(String, String)>,
) -> ApiResult {
    let admin = authorise(&state, &headers, &actor, &firm_id).await?;
    member_of(&state, &firm_id, &person_id).await?;
    members::remove(&state, &admin, &person_id, &actor)
        .await
        .map_err(admin_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct AuditQuery {
    kind: Option<String>,
    outcome: Option<String>,
    limit: Option<i64>,
}

async fn audit_rows(
    State(state): State<AppState>,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    Path(firm_id): Path<String>,
    Query(q): Query<AuditQuery>,
) -> ApiResult {
    authorise(&state, &headers, &actor, &firm_id).await?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let rows: Vec<Value> = state
        .store
        .firm_audit(&firm_id, q.kind.as_deref(), q.outcome.as_deref(), limit)
        .await?
        .into_iter()
        .map(|r| {
            json!({
                "id": r.id,
                "at": r.at,
                "kind": r.kind,
                "outcome": r.outcome,
                "person": r.person_email,
                "client_id": r.client_id,
                "ip": r.ip,
                "detail": r.detail.as_deref().and_then(|d| serde_json::from_str::<Value>(d).ok()),
            })
        })
        .collect();
    Ok(Json(json!({ "events": rows })).into_response())
}
