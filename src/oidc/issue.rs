//! Issuing an authorization code at the end of a successful journey: 256 random bits, stored
//! hashed, single use, 60 seconds, bound to client, redirect_uri, PKCE challenge, nonce and the
//! session. [RFC 6749 §4.1.2, §10.10; RFC 7636 §4.4]

use crate::app::AppState;
use crate::crypto::bearer::{BearerToken, TokenKind};
use crate::oidc::claims::{acr_for, token_amr};
use crate::oidc::request::{AuthorizationRequest, ADMIN_SCOPE};
use crate::store::codes::CodeRecord;
use crate::store::sessions::SessionRecord;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub async fn issue_code(
    state: &AppState,
    request: &AuthorizationRequest,
    session: &SessionRecord,
    firm_id: &str,
    offline: bool,
    mfa_proved: bool,
) -> Result<String, IssueError> {
    let now = state.clock.now();
    let code = BearerToken::generate();
    let ttl = i64::try_from(state.settings.code_ttl.as_secs()).unwrap_or(60);
    // The admin API scope only for an admin or owner of this firm, after a second factor.
    let may_administer = mfa_proved
        && state
            .store
            .membership(firm_id, &session.person_id)
            .await?
            .is_some_and(|m| m.role == "admin" || m.role == "owner");
    let scopes: Vec<&str> = request
        .scopes
        .iter()
        .map(String::as_str)
        .filter(|s| offline || *s != "offline_access")
        .filter(|s| may_administer || *s != ADMIN_SCOPE)
        .collect();
    // Back-Channel Logout: this client is told when the session ends.
    state
        .store
        .record_session_client(&session.id, &request.client_id, now)
        .await?;
    state
        .store
        .insert_code(&CodeRecord {
            code_hash: code.hash(TokenKind::AuthorizationCode),
            client_id: request.client_id.clone(),
            person_id: session.person_id.clone(),
            firm_id: firm_id.to_owned(),
            session_id: session.id.clone(),
            redirect_uri: request.redirect_uri.clone(),
            scope: scopes.join(" "),
            claims: request.claims.clone(),
            nonce: request.nonce.clone(),
            code_challenge: request.code_challenge.clone(),
            auth_time: session.auth_time,
            amr: token_amr(&session.amr, session.upstream_amr.as_deref()),
            acr: acr_for(mfa_proved).to_owned(),
            offline: i64::from(offline),
            created_at: now,
            expires_at: now + ttl,
            redeemed_at: None,
            grant_id: None,
        })
        .await?;
    Ok(code.expose().to_owned())
}
