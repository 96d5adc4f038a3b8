//! OpenID Connect Back-Channel Logout 1.0, the sending side. When a session ends (sign-out, My
//! Profile, a password change or reset, a locked challenge, another person signing in), every
//! relying party that got a code in it and registered a `backchannel_logout_uri` is owed a
//! logout token (queued by the store in the same transaction). This delivers them: a JWT typed
//! `logout+jwt` (§2.4) signed like the client's ID tokens, with `iss`, `aud`, `iat`, `exp`
//! (2 minutes), `jti`, `sub`, `sid` and the back-channel logout event, and no `nonce`, POSTed as
//! `logout_token` (§2.5). 2xx is delivered; anything else is retried after 10 s, 1 min, 5 min,
//! 30 min and 2 h, then given up and audited. Delivery is at least once (a node that dies after
//! the POST but before recording it sends again; the `jti` lets the relying party notice).

use std::time::Duration;

use serde_json::json;

use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent};
use crate::crypto::bearer::random_id;
use crate::crypto::jwt;
use crate::crypto::keys::SigningAlg;
use crate::store::backchannel::PendingLogout;
use crate::store::StoreResult;

/// The event member of a logout token (§2.4).
pub const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
const TOKEN_TTL_SECS: i64 = 120;
/// Delays after attempt 1, 2, ...; after the last, give up.
const RETRY_DELAYS: [i64; 5] = [10, 60, 300, 1800, 7200];
/// How long one node holds a delivery before another may try it.
const LEASE_SECS: i64 = 60;

/// The logout token for one relying party and session.
pub fn logout_token(
    state: &AppState,
    p: &PendingLogout,
    alg: SigningAlg,
    now: i64,
) -> Result<String, jwt::JwtError> {
    let claims = json!({
        "iss": state.issuer(),
        "aud": p.client_id,
        "iat": now,
        "exp": now + TOKEN_TTL_SECS,
        "jti": random_id(),
        "sub": p.person_id,
        "sid": p.session_id,
        "events": { LOGOUT_EVENT: {} },
    });
    jwt::sign(&state.keys.current(), alg, "logout+jwt", &claims, now)
}

/// Delivers what is due; returns how many were delivered.
pub async fn deliver_due(state: &AppState) -> StoreResult<usize> {
    let now = state.clock.now();
    let mut delivered = 0;
    for p in state.store.due_logouts(now, 20).await? {
        if !state.store.lease_logout(&p, now + LEASE_SECS).await? {
            continue;
        }
        let attempts = p.attempts + 1;
        match send(state, &p, now).await {
            Ok(()) => {
                state.store.logout_delivered(&p, state.clock.now()).await?;
                delivered += 1;
                record(state, &p, true, attempts).await?;
            }
            Err(why) => {
                let delay = usize::try_from(attempts - 1)
                    .ok()
                    .and_then(|i| RETRY_DELAYS.get(i));
                let now = state.clock.now();
                state
                    .store
                    .logout_failed(&p, &why, delay.map(|d| now + d), now)
                    .await?;
                tracing::info!(client_id = %p.client_id, attempts, error = %why, "back-channel logout not delivered");
                if delay.is_none() {
                    record(state, &p, false, attempts).await?;
                }
            }
        }
    }
    Ok(delivered)
}

async fn record(
    state: &AppState,
    p: &PendingLogout,
    delivered: bool,
    attempts: i64,
) -> StoreResult<()> {
    audit::record(
        &state.store,
        AuditEvent::BackchannelLogout {
            person_id: &p.person_id,
            client_id: &p.client_id,
            session_id: &p.session_id,
            delivered,
            attempts,
        },
        &Actor::default(),
        state.clock.now(),
    )
    .await
}

async fn send(state: &AppState, p: &PendingLogout, now: i64) -> Result<(), String> {
    let client = state
        .store
        .client(&p.client_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the client no longer exists")?;
    let uri = client
        .backchannel_logout_uri
        .ok_or("the client no longer has a back-channel logout URI")?;
    let alg = SigningAlg::parse(&client.signing_alg).unwrap_or(SigningAlg::Rs256);
    let token = logout_token(state, p, alg, now).map_err(|e| e.to_string())?;
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("logout_token", &token)
        .finish();
    let http = state.upstreams.http().await.map_err(|e| e.to_string())?;
    let res = http
        .post(&uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .timeout(Duration::from_secs(5))
        .body(body)
        .send()
        .await
        .map_err(|e| format!("{uri}: {e}"))?;
    if res.status().is_success() {
        Ok(())
    } else {
        Err(format!("{uri} answered {}", res.status()))
    }
}
