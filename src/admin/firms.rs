//! Creating firms.

use super::AdminError;
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent};
use crate::crypto::bearer::random_id;
use crate::store::firms::{Firm, FirmSetting};

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
        password_max_age_days: 0,
        password_reuse_limit: 0,
        password_composition: 0,
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
    /// Days until a password must be changed; 0 turns expiry off.
    pub password_max_age_days: Option<i64>,
    /// How many past passwords cannot be chosen again; 0 turns the limit off.
    pub password_reuse_limit: Option<i64>,
    pub password_composition: Option<bool>,
}

impl PolicyChange {
    /// Every requested change as (setting, new value), each checked against its allowed range.
    fn checked(&self) -> Result<Vec<(FirmSetting, i64)>, AdminError> {
        use crate::policy::password::{
            LOWEST_MIN_LENGTH, MAX_AGE_DAYS, MAX_LENGTH, MAX_REUSE_LIMIT,
        };
        let lowest = i64::try_from(LOWEST_MIN_LENGTH).unwrap_or(8);
        let highest = i64::try_from(MAX_LENGTH).unwrap_or(128);
        let mut changes = Vec::new();
        if let Some(secs) = self.idle_timeout_secs {
            if !(60..=30 * 86400).contains(&secs) {
                return Err(AdminError::Invalid(
                    "the idle timeout must be between 1 minute and 30 days".into(),
                ));
            }
            changes.push((FirmSetting::IdleTimeoutSecs, secs));
        }
        if let Some(n) = self.password_min_length {
            if !(lowest..=highest).contains(&n) {
                return Err(AdminError::Invalid(format!(
                    "the password minimum length must be between {lowest} (NIST SP 800-63B) and {highest}"
                )));
            }
            changes.push((FirmSetting::PasswordMinLength, n));
        }
        if let Some(days) = self.password_max_age_days {
            if days != 0 && !MAX_AGE_DAYS.contains(&days) {
                return Err(AdminError::Invalid(format!(
                    "the password expiry must be 0 (never) or between {} and {} days",
                    MAX_AGE_DAYS.start(),
                    MAX_AGE_DAYS.end()
                )));
            }
            changes.push((FirmSetting::PasswordMaxAgeDays, days));
        }
        if let Some(n) = self.password_reuse_limit {
            if !(0..=MAX_REUSE_LIMIT).contains(&n) {
                return Err(AdminError::Invalid(format!(
                    "the password reuse limit must be between 0 (none) and {MAX_REUSE_LIMIT}"
                )));
            }
            changes.push((FirmSetting::PasswordReuseLimit, n));
        }
        if let Some(on) = self.password_composition {
            changes.push((FirmSetting::PasswordComposition, i64::from(on)));
        }
        Ok(changes)
    }
}

/// Changes a firm's policy; returns the firm as stored afterwards. Every change is audited with
/// the old and the new value. One invalid value changes nothing.
pub async fn set_policy(
    state: &AppState,
    firm_id: &str,
    change: &PolicyChange,
    actor: &Actor,
) -> Result<Firm, AdminError> {
    let changes = change.checked()?;
    let firm = state
        .store
        .firm(firm_id)
        .await?
        .ok_or_else(|| AdminError::NoSuchFirm(firm_id.to_owned()))?;
    let now = state.clock.now();
    for (setting, value) in changes {
        state
            .store
            .set_firm_setting(firm_id, setting, value)
            .await?;
        audit::record(
            &state.store,
            AuditEvent::PolicyChanged {
                firm_id,
                setting: setting.column(),
                old: &setting.current(&firm).to_string(),
                new: &value.to_string(),
            },
            actor,
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
