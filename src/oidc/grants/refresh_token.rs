//! `grant_type=refresh_token` (RFC 6749 §6) with rotation: every refresh token works once; a
//! used one presented again revokes the whole family (RFC 9700 §4.14.2). A grant without
//! `offline_access` lives only as long as the browser session it came from. The new ID token
//! keeps `iss`, `sub`, `aud`, `azp` and the original `auth_time` (OIDC Core §12.2).

use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent};
use crate::crypto::bearer::{BearerToken, TokenKind};
use crate::error::OAuthError;
use crate::oidc::grants::signing_failed;
use crate::oidc::token::TokenResponse;
use crate::oidc::tokens::{self, UserGrant};
use crate::policy::PersonStanding;
use crate::signin::session;
use crate::store::clients::ClientRecord;
use crate::store::grants::Rotation;
use crate::store::refresh_context::RefreshContext;
use crate::web::params::Params;

pub async fn refresh(
    state: &AppState,
    client: &ClientRecord,
    form: &Params,
    actor: &Actor,
) -> Result<TokenResponse, OAuthError> {
    let now = state.clock.now();
    let presented = form
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    let hash = BearerToken::from_presented(presented).hash(TokenKind::RefreshToken);
    let invalid = || OAuthError::invalid_grant("the refresh token is not valid");
    let RefreshContext {
        token,
        grant,
        firm,
        session,
        person,
        membership,
    } = state
        .store
        .refresh_context(&hash)
        .await?
        .filter(|c| c.grant.client_id == client.id)
        .ok_or_else(invalid)?;
    if token.used_at.is_some() {
        return Err(replayed(state, client, &grant.id, actor).await);
    }
    if grant.revoked_at.is_some() || now >= token.expires_at {
        return Err(invalid());
    }
    let (Some(person_id), Some(firm_id)) = (grant.person_id.as_deref(), grant.firm_id.as_deref())
    else {
        return Err(invalid());
    };
    // The firm's policy applies at every refresh: its network rule, and for a grant bound to a
    // browser session, the firm's idle and maximum-age limits.
    let policy = firm.map(|f| f.policy()).transpose()?.unwrap_or_default();
    let ip = actor.ip.as_deref().and_then(|ip| ip.parse().ok());
    if !policy.network_allows(ip) {
        audit::record(
            &state.store,
            AuditEvent::PolicyRefused {
                person_id,
                firm_id,
                client_id: &client.id,
                rule: "ip_allowlist",
            },
            actor,
            now,
        )
        .await?;
        return Err(OAuthError::invalid_grant(
            "the firm does not allow access from this network",
        ));
    }
    if grant.offline == 0 {
        let verdict = policy.verdict(PersonStanding::default(), ip, now);
        // The session must be the grant's own (the join is on the grant's session id).
        let live = session.is_some_and(|s| {
            session::is_live(state, &s, now)
                && !verdict.idle_expired(s.last_seen_at, now)
                && !verdict.too_old(s.auth_time, now)
        });
        if !live {
            return Err(OAuthError::invalid_grant(
                "the sign-in session behind this refresh token has ended",
            ));
        }
    }
    let person = person.ok_or_else(invalid)?;
    let membership = membership
        .ok_or_else(|| OAuthError::invalid_grant("the user is no longer a member of the firm"))?;
    let scope = narrowed_scope(&grant.scope, form.get("scope"))?;

    let next = BearerToken::generate();
    let rotation = state
        .store
        .rotate_refresh_token(
            &hash,
            &next.hash(TokenKind::RefreshToken),
            &grant.id,
            now,
            now + tokens::refresh_ttl(state, client),
        )
        .await?;
    if rotation == Rotation::AlreadyUsed {
        return Err(replayed(state, client, &grant.id, actor).await);
    }
    let g = UserGrant {
        grant_id: &grant.id,
        client,
        person: &person,
        membership: &membership,
        scope: &scope,
        claims: grant.claims.as_deref(),
        auth_time: grant.auth_time,
        amr: &grant.amr,
        acr: &grant.acr,
        session_id: grant.session_id.as_deref(),
    };
    let access_token = tokens::user_access_token(state, &g).map_err(signing_failed)?;
    let id_token = scope
        .split(' ')
        .any(|s| s == "openid")
        .then(|| tokens::id_token(state, &g, &access_token, None))
        .transpose()
        .map_err(signing_failed)?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: tokens::access_ttl(state, client),
        id_token,
        refresh_token: Some(next.expose().to_owned()),
        scope: Some(scope),
    })
}

/// RFC 6749 §6: a requested scope must not exceed the grant's.
pub fn narrowed_scope(granted: &str, requested: Option<&str>) -> Result<String, OAuthError> {
    let Some(requested) = requested else {
        return Ok(granted.to_owned());
    };
    let granted: Vec<&str> = granted.split(' ').collect();
    let wanted: Vec<&str> = requested.split(' ').filter(|s| !s.is_empty()).collect();
    if wanted.iter().all(|s| granted.contains(s)) {
        Ok(wanted.join(" "))
    } else {
        Err(OAuthError::new(
            "invalid_scope",
            "the requested scope exceeds the original grant",
        ))
    }
}

async fn replayed(
    state: &AppState,
    client: &ClientRecord,
    grant_id: &str,
    actor: &Actor,
) -> OAuthError {
    let now = state.clock.now();
    if let Err(e) = state
        .store
        .revoke_grant(grant_id, now, "refresh token replayed")
        .await
    {
        return e.into();
    }
    if let Err(e) = audit::record(
        &state.store,
        AuditEvent::RefreshReplayed {
            client_id: &client.id,
            grant_id,
        },
        actor,
        now,
    )
    .await
    {
        return e.into();
    }
    OAuthError::invalid_grant("the refresh token has already been used")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_may_narrow_but_not_widen() {
        assert_eq!(
            narrowed_scope("openid email", None).unwrap(),
            "openid email"
        );
        assert_eq!(
            narrowed_scope("openid email", Some("openid")).unwrap(),
            "openid"
        );
        assert_eq!(
            narrowed_scope("openid", Some("openid email"))
                .unwrap_err()
                .code,
            "invalid_scope"
        );
    }
}
