//! Adding people to firms. A person is one e-mail address (case-insensitive); adding an existing
//! person to another firm adds a membership, not a second person, and never changes their
//! password (admins cannot set other people's passwords).

use super::AdminError;
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent};
use crate::crypto::bearer::random_id;
use crate::crypto::password::Password;
use crate::store::people::Person;

pub const ROLES: [&str; 3] = ["member", "admin", "owner"];
pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 128;

#[derive(Debug)]
pub struct NewUser<'a> {
    pub firm_id: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    pub password: &'a Password,
    pub role: &'a str,
}

/// The basic password rules (full rules, breached lists and strength come with accounts).
pub fn check_password(p: &Password) -> Result<(), AdminError> {
    let text = p.expose();
    let chars = text.chars().count();
    if text.starts_with(' ') || text.ends_with(' ') {
        return Err(AdminError::Invalid(
            "a password must not start or end with a space".into(),
        ));
    }
    if chars < MIN_PASSWORD_CHARS {
        return Err(AdminError::Invalid(format!(
            "a password needs at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(AdminError::Invalid(format!(
            "a password has at most {MAX_PASSWORD_CHARS} characters"
        )));
    }
    Ok(())
}

pub fn check_email(email: &str) -> Result<(), AdminError> {
    let e = email.trim();
    let valid = e.len() <= 254
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(())
    } else {
        Err(AdminError::Invalid(format!(
            "{email:?} is not a valid email address"
        )))
    }
}

/// Creates the person if new, adds the membership; returns the person and whether they are new.
pub async fn create_user(state: &AppState, u: &NewUser<'_>) -> Result<(Person, bool), AdminError> {
    check_email(u.email)?;
    let name = u.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AdminError::Invalid("a name has 1 to 200 characters".into()));
    }
    if !ROLES.contains(&u.role) {
        return Err(AdminError::Invalid(format!(
            "role must be one of {}",
            ROLES.join(", ")
        )));
    }
    if state.store.firm(u.firm_id).await?.is_none() {
        return Err(AdminError::NoSuchFirm(u.firm_id.to_owned()));
    }
    let now = state.clock.now();
    let existing = state.store.person_by_email(u.email).await?;
    let (person, new) = match existing {
        Some(p) => (p, false),
        None => {
            check_password(u.password)?;
            let hash = state
                .passwords
                .hash(u.password)
                .await
                .map_err(|_| AdminError::Hash)?;
            state
                .store
                .insert_person_if_new(&Person {
                    id: random_id(),
                    email: u.email.trim().to_owned(),
                    name: name.to_owned(),
                    email_verified: 0,
                    password_hash: Some(hash),
                    created_at: now,
                    updated_at: now,
                })
                .await?
        }
    };
    if !state
        .store
        .insert_membership(u.firm_id, &person.id, u.role, now)
        .await?
    {
        return Err(AdminError::Invalid(format!(
            "{} is already a member of this firm",
            person.email
        )));
    }
    audit::record(
        &state.store,
        AuditEvent::PersonAdded {
            person_id: &person.id,
            firm_id: u.firm_id,
            role: u.role,
            new_person: new,
        },
        &Actor::default(),
        now,
    )
    .await?;
    Ok((person, new))
}
