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

/// Changes a firm's policy; returns the firm as stored afterwards.
pub async fn set_policy(
    state: &AppState,
    firm_id: &str,
    idle_timeout_secs: Option<i64>,
) -> Result<Firm, AdminError> {
    let firm = state
        .store
        .firm(firm_id)
        .await?
        .ok_or_else(|| AdminError::NoSuchFirm(firm_id.to_owned()))?;
    let now = state.clock.now();
    if let Some(secs) = idle_timeout_secs {
        if !(60..=30 * 86400).contains(&secs) {
            return Err(AdminError::Invalid(
                "the idle timeout must be between 1 minute and 30 days".into(),
            ));
        }
        state
            .store
            .set_firm_idle_timeout(firm_id, secs, now)
            .await?;
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
    state
        .store
        .firm(firm_id)
        .await?
        .ok_or_else(|| AdminError::NoSuchFirm(firm_id.to_owned()))
}
