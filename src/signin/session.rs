//! Browser sessions as the sign-in journey sees them: find the live one behind the cookie,
//! establish a new one at sign-in (a fresh token every time, ASVS 3.2.1), end one at logout.

use axum::http::{HeaderMap, HeaderValue};

use crate::app::AppState;
use crate::audit::Actor;
use crate::clock::UnixTime;
use crate::crypto::bearer::{random_id, BearerToken, TokenKind};
use crate::store::sessions::{NewSession, SessionRecord, UpstreamSignIn};
use crate::store::sign_in_facts::SignInFacts;
use crate::store::{Reader, StoreResult};
use crate::web::cookies::{self, CookieName};

/// The live session behind the request's cookie: not ended, within its absolute lifetime and
/// the server-wide idle limit. (The firm's own idle limit is `next_step`'s to apply.)
pub async fn current(state: &AppState, headers: &HeaderMap) -> StoreResult<Option<SessionRecord>> {
    let Some(hash) = cookie_token_hash(state, headers) else {
        return Ok(None);
    };
    let session = state.store.session_by_token_hash(&hash).await?;
    Ok(session.filter(|s| is_live(state, s, state.clock.now())))
}

/// As `current`, through `reader` with the page's other reads, together with the facts about
/// the session's person that a sign-in to `client_id` needs (one read for both).
pub async fn current_with_facts(
    reader: &mut Reader,
    state: &AppState,
    headers: &HeaderMap,
    client_id: &str,
) -> StoreResult<Option<(SessionRecord, SignInFacts)>> {
    let Some(hash) = cookie_token_hash(state, headers) else {
        return Ok(None);
    };
    let found = reader.session_with_facts(&hash, client_id).await?;
    Ok(found.filter(|(s, _)| is_live(state, s, state.clock.now())))
}

/// The stored hash of the session token in the request's cookie, if it has a well-formed one.
fn cookie_token_hash(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let secure = state.settings.cookies_secure();
    let token = cookies::read(headers, CookieName::Session, secure)?;
    (token.len() == 43).then(|| BearerToken::from_presented(&token).hash(TokenKind::Session))
}

pub fn is_live(state: &AppState, s: &SessionRecord, now: UnixTime) -> bool {
    let idle_limit =
        i64::try_from(state.settings.session_idle_timeout.as_secs()).unwrap_or(i64::MAX);
    s.ended_at.is_none() && now < s.expires_at && now - s.last_seen_at <= idle_limit
}

/// Starts a new session for `person_id` after a successful sign-in. The previous session of
/// this browser, if any, is ended: a pre-login identifier is never promoted. When the same
/// person re-authenticates (prompt=login, max_age) their grants move to the new session.
/// Returns the new session as stored, and its cookie.
pub async fn establish(
    state: &AppState,
    previous: Option<&SessionRecord>,
    person_id: &str,
    amr: &str,
    upstream: Option<UpstreamSignIn<'_>>,
    actor: &Actor,
) -> StoreResult<(SessionRecord, Option<HeaderValue>)> {
    let now = state.clock.now();
    let token = BearerToken::generate();
    let id = random_id();
    let lifetime =
        i64::try_from(state.settings.session_max_lifetime.as_secs()).unwrap_or(i64::MAX / 4);
    let new = NewSession {
        id: &id,
        token_hash: &token.hash(TokenKind::Session),
        person_id,
        auth_time: now,
        amr,
        expires_at: now + lifetime,
        user_agent: actor.user_agent.as_deref(),
        ip: actor.ip.as_deref(),
        upstream,
    };
    state.store.insert_session(&new).await?;
    let session = new.record();
    if let Some(old) = previous {
        if old.person_id == person_id {
            state.store.hand_over_session(&old.id, &id, now).await?;
        } else {
            state
                .store
                .end_session(&old.id, now, "another person signed in")
                .await?;
        }
    }
    let cookie = cookies::set(
        CookieName::Session,
        token.expose(),
        state.settings.cookies_secure(),
    );
    Ok((session, cookie))
}

pub fn clear_cookie(state: &AppState) -> Option<HeaderValue> {
    cookies::clear(CookieName::Session, state.settings.cookies_secure())
}

/// After the second factor: a new session (new token, ASVS 3.2.1 on a privilege change) for the
/// same person with `amr` "pwd otp mfa" (or "fed otp mfa" after single sign-on, keeping what
/// the upstream asserted); the old one ends and its grants move over.
pub async fn upgrade_to_mfa(
    state: &AppState,
    old: &SessionRecord,
    actor: &Actor,
) -> StoreResult<(SessionRecord, Option<HeaderValue>)> {
    let upstream = old.upstream.as_deref().map(|provider| UpstreamSignIn {
        provider,
        realm: old.upstream_realm.as_deref(),
        amr: old.upstream_amr.as_deref().unwrap_or(""),
    });
    let amr = if upstream.is_some() {
        crate::oidc::claims::AMR_FEDERATED_OTP
    } else {
        crate::oidc::claims::AMR_PASSWORD_OTP
    };
    establish(state, Some(old), &old.person_id, amr, upstream, actor).await
}
