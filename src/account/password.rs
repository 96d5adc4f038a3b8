//! Choosing a password: the rules (policy::password) with the person's context, argon2id (NFKC
//! first), the change recorded and the person told by e-mail.

use super::AccountError;
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent};
use crate::crypto::password::{Password, Verified};
use crate::mail::{self, messages};
use crate::policy::password::{self as rules, PasswordContext, PasswordPolicy};
use crate::signin::throttle;
use crate::store::accounts::OtherSessions;
use crate::store::people::Person;

/// Checks `new` against the rules for `person`: their e-mail, name and firms' names, and the
/// strictest length and composition settings among their firms.
pub async fn check_rules(
    state: &AppState,
    email: &str,
    name: &str,
    person_id: Option<&str>,
    new: &str,
) -> Result<(), AccountError> {
    let (firm_names, policy): (Vec<String>, PasswordPolicy) = match person_id {
        Some(id) => (
            state
                .store
                .memberships_of(id)
                .await?
                .into_iter()
                .map(|m| m.firm_name)
                .collect(),
            state.store.password_policy_for(id).await?,
        ),
        None => (Vec::new(), PasswordPolicy::default()),
    };
    rules::check(
        new,
        &PasswordContext {
            min_length: policy.min_length,
            email,
            name,
            firm_names: &firm_names,
            composition: policy.composition,
        },
    )?;
    Ok(())
}

/// Refuses `new` when it is the current password or, under a firm's reuse limit, one of the
/// person's last N. Each candidate is an argon2 verification, so N is capped (24).
pub async fn check_reuse(
    state: &AppState,
    person: &Person,
    new: &str,
    always_refuse_current: bool,
) -> Result<(), AccountError> {
    let limit = state
        .store
        .password_policy_for(&person.id)
        .await?
        .reuse_limit;
    let mut candidates = state.store.password_history(&person.id, limit).await?;
    if (always_refuse_current || limit > 0)
        && person
            .password_hash
            .as_ref()
            .is_some_and(|h| !candidates.contains(h))
    {
        candidates.extend(person.password_hash.clone());
    }
    let new = Password::new(new);
    for old in &candidates {
        if matches!(
            state.passwords.verify(&new, Some(old)).await?,
            Verified::Yes { .. }
        ) {
            return Err(AccountError::Reused(limit.max(1)));
        }
    }
    Ok(())
}

/// Hashes a new password (the hasher compares in NFKC).
pub async fn hash(state: &AppState, new: &str) -> Result<String, AccountError> {
    Ok(state.passwords.hash(&Password::new(new)).await?)
}

/// The first sign-in with a temporary password: the person sets their own (and their profile).
pub async fn replace_temporary(
    state: &AppState,
    person: &Person,
    name: &str,
    time_zone: &str,
    new: &str,
    confirm: &str,
    actor: &Actor,
) -> Result<(), AccountError> {
    let name = super::profile::check_name(name)?;
    check_time_zone(time_zone)?;
    if new != confirm {
        return Err(AccountError::Mismatch);
    }
    check_rules(state, &person.email, name, Some(&person.id), new).await?;
    // ASVS 2.3.1: the temporary password cannot become the long-term one.
    let same = state
        .passwords
        .verify(&Password::new(new), person.password_hash.as_deref())
        .await?;
    if matches!(same, Verified::Yes { .. }) {
        return Err(AccountError::SameAsTemporary);
    }
    let hash = hash(state, new).await?;
    let now = state.clock.now();
    state
        .store
        .replace_password(&person.id, &hash, now, OtherSessions::Keep)
        .await?;
    state
        .store
        .set_profile(&person.id, name, time_zone, now)
        .await?;
    // The temporary password reached them by e-mail: the address is theirs (SECURITY.md 92
    // links upstream accounts only to people whose address is proven).
    state.store.mark_email_verified(&person.id).await?;
    audit::record(
        &state.store,
        AuditEvent::PasswordChanged {
            person_id: &person.id,
            how: "first sign-in",
        },
        actor,
        now,
    )
    .await?;
    mail::enqueue(
        &state.store,
        messages::password_changed(&person.email, name, "was set", "")?,
        now,
    )
    .await?;
    state.mailer.wake();
    Ok(())
}

/// The sign-in step for an expired password (a firm's expiry policy): a new one, not the
/// current one nor, under a reuse limit, a recent one.
pub async fn replace_expired(
    state: &AppState,
    person: &Person,
    new: &str,
    confirm: &str,
    actor: &Actor,
) -> Result<(), AccountError> {
    if new != confirm {
        return Err(AccountError::Mismatch);
    }
    check_rules(state, &person.email, &person.name, Some(&person.id), new).await?;
    check_reuse(state, person, new, true).await?;
    let hash = hash(state, new).await?;
    let now = state.clock.now();
    state
        .store
        .replace_password(&person.id, &hash, now, OtherSessions::Keep)
        .await?;
    changed(state, person, "expired", "", actor, now).await
}

/// A password change on My Profile: the current password first (throttled like a sign-in, on
/// the same counter, so My Profile is no way around a lock), then the rules and the reuse limit.
/// With `end_other_sessions` every other session of the person ends in the same transaction.
/// Returns how many sessions ended.
#[allow(clippy::too_many_arguments)]
pub async fn change(
    state: &AppState,
    person: &Person,
    this_session: &str,
    current: &str,
    new: &str,
    confirm: &str,
    end_other_sessions: bool,
    actor: &Actor,
) -> Result<u64, AccountError> {
    let now = state.clock.now();
    let keys = throttle::login_keys(&person.email, actor.ip.as_deref());
    let checked = throttle::check(&state.store, &keys, now).await?;
    if let Some(wait) = checked.wait() {
        refused(state, person, "throttled", actor, now).await?;
        return Err(AccountError::Throttled(wait));
    }
    let verified = state
        .passwords
        .verify(&Password::new(current), person.password_hash.as_deref())
        .await?;
    if !matches!(verified, Verified::Yes { .. }) {
        throttle::failed(&state.store, &keys, now).await?;
        refused(state, person, "wrong current password", actor, now).await?;
        return Err(AccountError::WrongCurrent);
    }
    throttle::succeeded(&state.store, &keys, &checked).await?;
    if new != confirm {
        return Err(AccountError::Mismatch);
    }
    check_rules(state, &person.email, &person.name, Some(&person.id), new).await?;
    check_reuse(state, person, new, true).await?;
    let hash = hash(state, new).await?;
    let others = if end_other_sessions {
        OtherSessions::EndAllBut(this_session)
    } else {
        OtherSessions::Keep
    };
    let ended = state
        .store
        .replace_password(&person.id, &hash, now, others)
        .await?;
    let sessions = if end_other_sessions {
        "Every other session was signed out."
    } else {
        ""
    };
    changed(state, person, "my profile", sessions, actor, now).await?;
    Ok(ended)
}

async fn refused(
    state: &AppState,
    person: &Person,
    reason: &str,
    actor: &Actor,
    now: i64,
) -> Result<(), AccountError> {
    audit::record(
        &state.store,
        AuditEvent::PasswordChangeRefused {
            person_id: &person.id,
            reason,
        },
        actor,
        now,
    )
    .await?;
    Ok(())
}

/// Audits a password change and tells the person by e-mail.
async fn changed(
    state: &AppState,
    person: &Person,
    how: &str,
    sessions: &str,
    actor: &Actor,
    now: i64,
) -> Result<(), AccountError> {
    audit::record(
        &state.store,
        AuditEvent::PasswordChanged {
            person_id: &person.id,
            how,
        },
        actor,
        now,
    )
    .await?;
    mail::enqueue(
        &state.store,
        messages::password_changed(&person.email, &person.name, "was changed", sessions)?,
        now,
    )
    .await?;
    state.mailer.wake();
    Ok(())
}

pub const STRENGTH_WORDS: [&str; 5] = ["very weak", "weak", "fair", "good", "strong"];

/// The strength estimate as the pages word it.
pub fn strength_word(password: &str, email: &str, name: &str) -> &'static str {
    let s = rules::strength(
        password,
        &PasswordContext {
            email,
            name,
            ..Default::default()
        },
    );
    STRENGTH_WORDS
        .get(usize::from(s))
        .copied()
        .unwrap_or("strong")
}

/// An IANA time zone name such as `Europe/London` or `UTC` (shape only; the list changes).
pub fn check_time_zone(tz: &str) -> Result<(), AccountError> {
    let ok = !tz.is_empty()
        && tz.len() <= 64
        && tz.split('/').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))
        })
        && tz.chars().next().is_some_and(|c| c.is_ascii_uppercase());
    if ok {
        Ok(())
    } else {
        Err(AccountError::Invalid(
            "Choose a time zone such as Europe/London or Australia/Sydney.".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zones_are_shaped_like_iana_names() {
        for ok in [
            "UTC",
            "Europe/London",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+10",
        ] {
            assert!(check_time_zone(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "europe/london",
            "Europe//London",
            "<script>",
            "Europe/London\n",
        ] {
            assert!(check_time_zone(bad).is_err(), "{bad:?}");
        }
    }
}
