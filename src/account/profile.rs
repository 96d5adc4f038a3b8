//! My Profile's changes other than the password: name and time zone, and ending sessions.

use super::password::check_time_zone;
use super::AccountError;
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent};
use crate::store::people::Person;

pub const MAX_NAME_CHARS: usize = 200;

pub fn check_name(name: &str) -> Result<&str, AccountError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(AccountError::Invalid(format!(
            "Enter your name (1 to {MAX_NAME_CHARS} characters)."
        )));
    }
    Ok(name)
}

pub async fn update(
    state: &AppState,
    person: &Person,
    name: &str,
    time_zone: &str,
    actor: &Actor,
) -> Result<(), AccountError> {
    let name = check_name(name)?;
    check_time_zone(time_zone)?;
    let now = state.clock.now();
    state
        .store
        .set_profile(&person.id, name, time_zone, now)
        .await?;
    audit::record(
        &state.store,
        AuditEvent::ProfileChanged {
            person_id: &person.id,
        },
        actor,
        now,
    )
    .await?;
    Ok(())
}

/// Which sessions "sign out" ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending<'a> {
    /// One other session, by its public id.
    One(&'a str),
    /// Every session but this browser's.
    Others,
    /// Every session, this browser's too ("sign out everywhere").
    All,
}

/// Ends the person's sessions (and the grants bound to them); returns how many ended. A session
/// id that is not one of the person's live sessions ends nothing.
pub async fn end_sessions(
    state: &AppState,
    person: &Person,
    this_session: &str,
    which: Ending<'_>,
    actor: &Actor,
) -> Result<u64, AccountError> {
    let now = state.clock.now();
    let (ended, label) = match which {
        Ending::One(id) => {
            let mine = state
                .store
                .session(id)
                .await?
                .is_some_and(|s| s.person_id == person.id && s.ended_at.is_none());
            let ended = if mine {
                u64::from(
                    state
                        .store
                        .end_session(id, now, "signed out from My Profile")
                        .await?,
                )
            } else {
                0
            };
            (ended, "one")
        }
        Ending::Others => (
            state
                .store
                .end_sessions_of(
                    &person.id,
                    Some(this_session),
                    now,
                    "signed out from My Profile",
                )
                .await?,
            "others",
        ),
        Ending::All => (
            state
                .store
                .end_sessions_of(&person.id, None, now, "signed out everywhere")
                .await?,
            "all",
        ),
    };
    // Their applications hear of it now rather than at the next delivery pass.
    state.backchannel.notify_one();
    audit::record(
        &state.store,
        AuditEvent::SessionsEnded {
            person_id: &person.id,
            which: label,
            count: ended,
        },
        actor,
        now,
    )
    .await?;
    Ok(ended)
}
