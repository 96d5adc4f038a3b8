//! Creating firms.

use super::AdminError;
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent};
use crate::crypto::bearer::random_id;
use crate::store::firms::Firm;

/// Creates a firm. `region` is an ISO 3166 alpha-2 code in lower case (`au`, `nz`, `gb`, `us`).
pub async fn create_firm(
    state: &AppState,
    name: &str,
    region: Option<&str>,
) -> Result<Firm, AdminError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AdminError::Invalid(
            "a firm name has 1 to 200 characters".into(),
        ));
    }
    if let Some(r) = region {
        if r.len() != 2 || !r.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(AdminError::Invalid(format!(
                "region {r:?} must be an ISO 3166 alpha-2 code in lower case, like au or gb"
            )));
        }
    }
    let now = state.clock.now();
    let firm = Firm {
        id: random_id(),
        name: name.to_owned(),
        region: region.map(str::to_owned),
        idle_timeout_secs: crate::policy::DEFAULT_IDLE_TIMEOUT_SECS,
        created_at: now,
        password_min_length: i64::try_from(crate::policy::password::DEFAULT_MIN_LENGTH)
            .unwrap_or(12),
    };
    state.store.insert_firm(&firm).await?;
    audit::record(
        &state.store,
        AuditEvent::FirmCreated { firm_id: &firm.id },
        &Actor::default(),
        now,
    )
    .await?;
    Ok(firm)
}

/// Policy changes; `None` leaves a setting as it is.
#[derive(Debug, Default, Clone)]
pub struct PolicyChange {
    pub idle_timeout_secs: Option<i64>,
    pub password_min_length: Option<i64>,
}

/// Changes a firm's policy; returns the firm as stored afterwards. Every change is audited with
/// the old and the new value. Invalid values change nothing.
pub async fn set_policy(
    state: &AppState,
    firm_id: &str,
    change: &PolicyChange,
) -> Result<Firm, AdminError> {
    let idle_timeout_secs = change.idle_timeout_secs;
    let lowest = i64::try_from(crate::policy::password::LOWEST_MIN_LENGTH).unwrap_or(8);
    let highest = i64::try_from(crate::policy::password::MAX_LENGTH).unwrap_or(128);
    if let Some(n) = change.password_min_length {
        if !(lowest..=highest).contains(&n) {
            return Err(AdminError::Invalid(format!(
                "the password minimum length must be between {lowest} (NIST SP 800-63B) and {highest}"
            )));
        }
    }
    if idle_timeout_secs.is_some_and(|secs| !(60..=30 * 86400).contains(&secs)) {
        return Err(AdminError::Invalid(
            "the idle timeout must be between 1 minute and 30 days".into(),
        ));
    }
    let firm = state
        .store
        .firm(firm_id)
        .await?
        .ok_or_else(|| AdminError::NoSuchFirm(firm_id.to_owned()))?;
    let now = state.clock.now();
    if let Some(secs) = idle_timeout_secs {
        state.store.set_firm_idle_timeout(firm_id, secs).await?;
        audit::record(
            &state.store,
            AuditEvent::PolicyChanged {
                firm_id,
                setting: "idle_timeout_secs",
                old: &firm.idle_timeout_secs.to_string(),
                new: &secs.to_string(),
            },
            &Actor::default(),
            now,
        )
        .await?;
    }
    if let Some(n) = change.password_min_length {
        state.store.set_firm_password_min_length(firm_id, n).await?;
        audit::record(
            &state.store,
            AuditEvent::PolicyChanged {
                firm_id,
                setting: "password_min_length",
                old: &firm.password_min_length.to_string(),
                new: &n.to_string(),
            },
            &Actor::default(),
            now,
        )
        .await?;
    }
    state
        .store
        .firm(firm_id)
        .await?
        .ok_or_else(|| AdminError::NoSuchFirm(firm_id.to_owned()))
}
