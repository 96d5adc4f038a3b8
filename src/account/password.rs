//! Choosing a password: the rules (policy::password) with the person's context, argon2id (NFKC
//! first), the change recorded and the person told by e-mail.

use super::AccountError;
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent};
use crate::crypto::password::{Password, Verified};
use crate::mail::{self, messages};
use crate::policy::password::{self as rules, PasswordContext, DEFAULT_MIN_LENGTH};
use crate::store::people::Person;

/// Checks `new` against the rules for `person`: their e-mail, name and firms' names, and the
/// strictest minimum length among their firms.
pub async fn check_rules(
    state: &AppState,
    email: &str,
    name: &str,
    person_id: Option<&str>,
    new: &str,
) -> Result<(), AccountError> {
    let firm_names: Vec<String> = match person_id {
        Some(id) => state
            .store
            .memberships_of(id)
            .await?
            .into_iter()
            .map(|m| m.firm_name)
            .collect(),
        None => Vec::new(),
    };
    // One password serves every firm: the strictest minimum among them applies.
    let min_length = match person_id {
        Some(id) => state
            .store
            .password_min_length_for(id)
            .await?
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(DEFAULT_MIN_LENGTH),
        None => DEFAULT_MIN_LENGTH,
    };
    rules::check(
        new,
        &PasswordContext {
            min_length,
            email,
            name,
            firm_names: &firm_names,
        },
    )?;
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
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AccountError::Invalid(
            "Enter your name (up to 200 characters).".into(),
        ));
    }
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
        .replace_password(&person.id, &hash, None, now)
        .await?;
    state
        .store
        .set_profile(&person.id, name, time_zone, now)
        .await?;
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
        messages::password_changed(&person.email, name, "was set")?,
        now,
    )
    .await?;
    state.mailer.wake();
    Ok(())
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
