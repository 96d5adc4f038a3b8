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

#[derive(Debug)]
pub struct NewUser<'a> {
    pub firm_id: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    pub password: &'a Password,
    pub role: &'a str,
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
            let firm = state.store.firm(u.firm_id).await?;
            let min_length = firm
                .as_ref()
                .and_then(|f| usize::try_from(f.password_min_length).ok())
                .unwrap_or(crate::policy::password::DEFAULT_MIN_LENGTH);
            let composition = firm.as_ref().is_some_and(|f| f.password_composition != 0);
            let firm_name = firm.map(|f| f.name).unwrap_or_default();
            crate::policy::password::check(
                u.password.expose(),
                &crate::policy::password::PasswordContext {
                    min_length,
                    email: u.email,
                    name,
                    firm_names: &[firm_name],
                    composition,
                },
            )
            .map_err(|e| AdminError::Invalid(e.to_string()))?;
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
                    password_temporary: 0,
                    password_expires_at: None,
                    password_changed_at: Some(now),
                    time_zone: None,
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
