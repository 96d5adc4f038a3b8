//! Forgotten password: the same answer whether or not the address is known (no enumeration);
//! a single-use link valid 30 minutes, stored hashed, sent only to the stored address; a new
//! password that follows the rules; then every session and refresh token of the person revoked
//! and a notification sent. A reset never signs anyone in. [ASVS 2.5, 3.3.3; SECURITY 68, 78-79]

use super::password::{check_reuse, check_rules, hash};
use super::AccountError;
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent};
use crate::crypto::bearer::{BearerToken, TokenKind};
use crate::mail::{self, messages};
use crate::store::people::{email_key, Person};

const RESET_WINDOW_SECS: i64 = 15 * 60;
/// Reset e-mails per address per window; beyond it the answer is the same and nothing is sent.
const RESETS_PER_WINDOW: i64 = 3;

/// Sends a reset link if `email` belongs to someone, quietly doing nothing otherwise.
pub async fn request(state: &AppState, email: &str, actor: &Actor) -> Result<(), AccountError> {
    let now = state.clock.now();
    let sent = state
        .store
        .throttle_fail(
            &format!("reset:{}", email_key(email)),
            now,
            RESET_WINDOW_SECS,
        )
        .await?;
    let person = state.store.person_by_email(email).await?;
    let Some(person) = person else {
        audit::record(
            &state.store,
            AuditEvent::PasswordResetRequested {
                person_id: None,
                sent: false,
            },
            actor,
            now,
        )
        .await?;
        return Ok(());
    };
    if sent > RESETS_PER_WINDOW {
        audit::record(
            &state.store,
            AuditEvent::PasswordResetRequested {
                person_id: Some(&person.id),
                sent: false,
            },
            actor,
            now,
        )
        .await?;
        return Ok(());
    }
    send_link(state, &person, now).await?;
    audit::record(
        &state.store,
        AuditEvent::PasswordResetRequested {
            person_id: Some(&person.id),
            sent: true,
        },
        actor,
        now,
    )
    .await?;
    Ok(())
}

/// A firm admin has a reset link sent to one of the firm's people: admins never choose anyone's
/// password, the person does, through the link. Refused for someone outside the firm.
pub async fn send_by_admin(
    state: &AppState,
    firm_id: &str,
    email: &str,
    actor: &Actor,
) -> Result<Person, AccountError> {
    let person = match state.store.person_by_email(email).await? {
        Some(p) if state.store.membership(firm_id, &p.id).await?.is_some() => p,
        _ => {
            return Err(AccountError::Invalid(format!(
                "no member of firm {firm_id} has the e-mail address {email}"
            )))
        }
    };
    let now = state.clock.now();
    send_link(state, &person, now).await?;
    audit::record(
        &state.store,
        AuditEvent::PasswordResetSentByAdmin {
            person_id: &person.id,
            firm_id,
        },
        actor,
        now,
    )
    .await?;
    Ok(person)
}

/// Stores a new single-use link (hashed) and queues the e-mail to the stored address.
async fn send_link(state: &AppState, person: &Person, now: i64) -> Result<(), AccountError> {
    let token = BearerToken::generate();
    let ttl = i64::try_from(state.settings.reset_link_ttl.as_secs()).unwrap_or(1800);
    state
        .store
        .insert_password_reset(
            &token.hash(TokenKind::PasswordReset),
            &person.id,
            now,
            now + ttl,
        )
        .await?;
    let link = format!("{}/signin/reset?token={}", state.issuer(), token.expose());
    // Sent to the stored address, never to the one typed.
    mail::enqueue(
        &state.store,
        messages::password_reset(&person.email, &person.name, &link)?,
        now,
    )
    .await?;
    state.mailer.wake();
    Ok(())
}

/// The person a reset link belongs to, if it is unused and unexpired. Reading it consumes nothing
/// (mail scanners open links).
pub async fn holder(state: &AppState, token: &str) -> Result<Person, AccountError> {
    if token.len() != 43 {
        return Err(AccountError::LinkInvalid);
    }
    let hash = BearerToken::from_presented(token).hash(TokenKind::PasswordReset);
    let reset = state
        .store
        .open_password_reset(&hash, state.clock.now())
        .await?
        .ok_or(AccountError::LinkInvalid)?;
    state
        .store
        .person(&reset.person_id)
        .await?
        .ok_or(AccountError::LinkInvalid)
}

/// Sets the new password through the link, once.
pub async fn complete(
    state: &AppState,
    token: &str,
    new: &str,
    confirm: &str,
    actor: &Actor,
) -> Result<Person, AccountError> {
    let person = holder(state, token).await?;
    if new != confirm {
        return Err(AccountError::Mismatch);
    }
    check_rules(state, &person.email, &person.name, Some(&person.id), new).await?;
    check_reuse(state, &person, new, false).await?;
    let new_hash = hash(state, new).await?;
    let now = state.clock.now();
    let token_hash = BearerToken::from_presented(token).hash(TokenKind::PasswordReset);
    if !state
        .store
        .complete_password_reset(&token_hash, &person.id, &new_hash, now)
        .await?
    {
        return Err(AccountError::LinkInvalid);
    }
    // The link reached them by e-mail: the address is theirs.
    state.store.mark_email_verified(&person.id).await?;
    // The owner can always get back in: the sign-in lock on their address is lifted.
    state
        .store
        .throttle_clear(&format!("login:acct:{}", email_key(&person.email)))
        .await?;
    audit::record(
        &state.store,
        AuditEvent::PasswordChanged {
            person_id: &person.id,
            how: "reset",
        },
        actor,
        now,
    )
    .await?;
    mail::enqueue(
        &state.store,
        messages::password_changed(
            &person.email,
            &person.name,
            "was reset",
            "Every session was signed out.",
        )?,
        now,
    )
    .await?;
    state.mailer.wake();
    Ok(person)
}
