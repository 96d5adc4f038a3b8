//! Invitations: the membership is created at once; a new person gets a temporary password
//! (random, expiring after 7 days, replaced at the first sign-in) and an e-mail with it and a
//! link to the welcome page. An existing person keeps their password and is told by e-mail.

use super::AccountError;
use crate::admin::users::{check_email, ROLES};
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent};
use crate::crypto::bearer::{random_bytes, random_id};
use crate::crypto::password::Password;
use crate::mail::{self, messages};
use crate::store::people::Person;

/// Letters and digits that cannot be mistaken for each other.
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// A temporary password like `k7mq-x2pd-9fhr-tw4c` (about 79 bits).
pub fn temporary_password() -> String {
    let mut out = String::new();
    let mut produced = 0;
    while produced < 16 {
        for b in random_bytes::<32>() {
            // Rejection sampling keeps every character equally likely.
            if usize::from(b) >= 248 || produced == 16 {
                continue;
            }
            if produced > 0 && produced % 4 == 0 {
                out.push('-');
            }
            if let Some(c) = ALPHABET.get(usize::from(b) % ALPHABET.len()) {
                out.push(char::from(*c));
                produced += 1;
            }
        }
    }
    out
}

pub struct Invited {
    pub person: Person,
    pub new_person: bool,
    pub expires_at: Option<i64>,
}

pub async fn invite(
    state: &AppState,
    firm_id: &str,
    email: &str,
    name: &str,
    role: &str,
    actor: &Actor,
) -> Result<Invited, AccountError> {
    check_email(email).map_err(|e| AccountError::Invalid(e.to_string()))?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AccountError::Invalid(
            "a name has 1 to 200 characters".into(),
        ));
    }
    if !ROLES.contains(&role) {
        return Err(AccountError::Invalid(format!(
            "role must be one of {}",
            ROLES.join(", ")
        )));
    }
    let firm = state
        .store
        .firm(firm_id)
        .await?
        .ok_or_else(|| AccountError::Invalid(format!("no firm with id {firm_id}")))?;
    let now = state.clock.now();
    let ttl = i64::try_from(state.settings.invitation_ttl.as_secs()).unwrap_or(7 * 86400);
    let (person, temporary, expires_at) = match state.store.person_by_email(email).await? {
        Some(p) => (p, None, None),
        None => {
            let temp = temporary_password();
            let hash = state.passwords.hash(&Password::new(temp.clone())).await?;
            let (p, _) = state
                .store
                .insert_person_if_new(&Person {
                    id: random_id(),
                    email: email.trim().to_owned(),
                    name: name.to_owned(),
                    email_verified: 0,
                    password_hash: Some(hash),
                    created_at: now,
                    updated_at: now,
                    password_temporary: 1,
                    password_expires_at: Some(now + ttl),
                    password_changed_at: None,
                    time_zone: None,
                })
                .await?;
            (p, Some(temp), Some(now + ttl))
        }
    };
    if !state
        .store
        .insert_membership(firm_id, &person.id, role, now)
        .await?
    {
        return Err(AccountError::Invalid(format!(
            "{} is already a member of this firm",
            person.email
        )));
    }
    let expires = expires_at
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc2822)
                .ok()
        })
        .unwrap_or_default();
    let link = format!("{}/welcome?firm={}", state.issuer(), firm.id);
    let message = messages::invitation(
        &person.email,
        &person.name,
        &firm.name,
        &link,
        temporary.as_deref(),
        &expires,
    )?;
    mail::enqueue(&state.store, message, now).await?;
    state.mailer.wake();
    audit::record(
        &state.store,
        AuditEvent::PersonInvited {
            person_id: &person.id,
            firm_id,
            role,
            new_person: temporary.is_some(),
        },
        actor,
        now,
    )
    .await?;
    Ok(Invited {
        person,
        new_person: temporary.is_some(),
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_passwords_are_long_random_and_readable() {
        let a = temporary_password();
        let b = temporary_password();
        assert_ne!(a, b);
        assert_eq!(a.len(), 19);
        assert!(a
            .split('-')
            .all(|g| g.len() == 4 && g.bytes().all(|c| ALPHABET.contains(&c))));
    }
}
