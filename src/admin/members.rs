//! Membership changes a firm's admins make: a person's role, removal from the firm. Owners alone
//! make or unmake owners, and a firm always keeps one owner. Every change is audited with the
//! acting admin, the old and the new value.

use super::AdminError;
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent};
use crate::store::people::Membership;

pub const ROLES: [&str; 3] = ["member", "admin", "owner"];

/// Changes `person_id`'s role in `acting.firm_id`.
pub async fn change_role(
    state: &AppState,
    acting: &Membership,
    person_id: &str,
    role: &str,
    actor: &Actor,
) -> Result<(), AdminError> {
    if !ROLES.contains(&role) {
        return Err(AdminError::Invalid(format!(
            "role {role:?} must be member, admin or owner"
        )));
    }
    let firm_id = &acting.firm_id;
    let target = state
        .store
        .membership(firm_id, person_id)
        .await?
        .ok_or_else(|| AdminError::Invalid("that person is not a member of this firm".into()))?;
    if target.role == role {
        return Ok(());
    }
    if (role == "owner" || target.role == "owner") && acting.role != "owner" {
        return Err(AdminError::Invalid(
            "only an owner may make someone an owner or change an owner's role".into(),
        ));
    }
    if target.role == "owner" && state.store.count_owners(firm_id).await? <= 1 {
        return Err(AdminError::Invalid(
            "the firm must keep at least one owner".into(),
        ));
    }
    state.store.set_role(firm_id, person_id, role).await?;
    audit::record(
        &state.store,
        AuditEvent::MembershipChanged {
            firm_id,
            person_id,
            by: &acting.person_id,
            change: "role",
            old: &target.role,
            new: role,
        },
        actor,
        state.clock.now(),
    )
    .await?;
    Ok(())
}

/// Removes `person_id` from the firm (their grants for the firm are revoked).
pub async fn remove(
    state: &AppState,
    acting: &Membership,
    person_id: &str,
    actor: &Actor,
) -> Result<(), AdminError> {
    let firm_id = &acting.firm_id;
    let target = state
        .store
        .membership(firm_id, person_id)
        .await?
        .ok_or_else(|| AdminError::Invalid("that person is not a member of this firm".into()))?;
    if target.role == "owner" {
        if acting.role != "owner" {
            return Err(AdminError::Invalid(
                "only an owner may remove an owner".into(),
            ));
        }
        if state.store.count_owners(firm_id).await? <= 1 {
            return Err(AdminError::Invalid(
                "the firm must keep at least one owner".into(),
            ));
        }
    }
    let now = state.clock.now();
    state
        .store
        .remove_membership(firm_id, person_id, now)
        .await?;
    audit::record(
        &state.store,
        AuditEvent::MembershipChanged {
            firm_id,
            person_id,
            by: &acting.person_id,
            change: "removed",
            old: &target.role,
            new: "",
        },
        actor,
        now,
    )
    .await?;
    Ok(())
}
