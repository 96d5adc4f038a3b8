//! The audit trail: every sign-in, failure, consent, logout, token replay and security change.
//! Events are an enum, not strings; records carry ids, addresses and outcomes, never a secret.

use serde_json::json;

use crate::clock::UnixTime;
use crate::crypto::bearer::random_id;
use crate::store::{Store, StoreResult};

/// Who and where: filled from the request by the handler.
#[derive(Clone, Debug, Default)]
pub struct Actor {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Clone, Debug)]
pub enum AuditEvent<'a> {
    SignIn {
        person_id: &'a str,
        firm_id: Option<&'a str>,
        client_id: &'a str,
    },
    SignInFailed {
        /// Known only when the e-mail matched a person; never the typed password.
        person_id: Option<&'a str>,
        client_id: &'a str,
        reason: &'a str,
    },
    SignInThrottled {
        person_id: Option<&'a str>,
        client_id: &'a str,
    },
    SignOut {
        person_id: &'a str,
        session_id: &'a str,
    },
    Consent {
        person_id: &'a str,
        client_id: &'a str,
        decision: &'a str,
        scope: &'a str,
    },
    CodeReplayed {
        client_id: &'a str,
        grant_id: Option<&'a str>,
    },
    RefreshReplayed {
        client_id: &'a str,
        grant_id: &'a str,
    },
    ClientAuthFailed {
        client_id: &'a str,
    },
    TokenRevoked {
        client_id: &'a str,
        what: &'a str,
    },
    FirmCreated {
        firm_id: &'a str,
    },
    PersonAdded {
        person_id: &'a str,
        firm_id: &'a str,
        role: &'a str,
        new_person: bool,
    },
    ClientCreated {
        client_id: &'a str,
        firm_id: Option<&'a str>,
    },
    KeysRotated {
        kids: &'a [String],
    },
    PasswordChanged {
        person_id: &'a str,
        how: &'a str,
    },
    PasswordResetRequested {
        person_id: Option<&'a str>,
        sent: bool,
    },
    PersonInvited {
        person_id: &'a str,
        firm_id: &'a str,
        role: &'a str,
        new_person: bool,
    },
    PolicyChanged {
        firm_id: &'a str,
        setting: &'a str,
        old: &'a str,
        new: &'a str,
    },
    /// A firm admin had a reset link sent to one of the firm's people (admins never set one).
    PasswordResetSentByAdmin {
        person_id: &'a str,
        firm_id: &'a str,
    },
    /// A password change on My Profile refused: the current password was wrong, or throttled.
    PasswordChangeRefused {
        person_id: &'a str,
        reason: &'a str,
    },
    ProfileChanged {
        person_id: &'a str,
    },
    /// A second-factor event: `action` is `activated`, `deactivated`, `reset_by_owner`,
    /// `challenge`, `recovery_codes_regenerated` or `setup_started`; `outcome` says how it went
    /// (`success`, `failure`, `replayed`, `throttled`). Never a code or a secret.
    Mfa {
        person_id: &'a str,
        action: &'a str,
        outcome: &'static str,
        method: Option<&'a str>,
        firm_id: Option<&'a str>,
    },
    /// A firm policy refused a sign-in, an authorization, a refresh or a UserInfo request;
    /// `rule` names it (`ip_allowlist`, `sign_in_hours`, `sso_required`).
    PolicyRefused {
        person_id: &'a str,
        firm_id: &'a str,
        client_id: &'a str,
        rule: &'a str,
    },
    /// A client's registration changed (`redirect_uris`, `secret_rotated`).
    ClientChanged {
        client_id: &'a str,
        firm_id: &'a str,
        change: &'a str,
    },
    /// A firm admin changed a membership: `change` is `role` or `removed`.
    MembershipChanged {
        firm_id: &'a str,
        person_id: &'a str,
        by: &'a str,
        change: &'a str,
        old: &'a str,
        new: &'a str,
    },
    /// Someone reached for a firm's admin console without being its admin (or for an object
    /// of another firm): answered 404.
    AdminAccessRefused {
        person_id: &'a str,
        firm_id: &'a str,
        path: &'a str,
    },
    /// Sessions ended from My Profile: `which` is `one`, `others` or `all`.
    SessionsEnded {
        person_id: &'a str,
        which: &'a str,
        count: u64,
    },
    /// A logout token delivered to a relying party's back-channel logout URI, or given up on
    /// (`outcome` `failure`, after the last retry).
    BackchannelLogout {
        person_id: &'a str,
        client_id: &'a str,
        session_id: &'a str,
        delivered: bool,
        attempts: i64,
    },
    /// A sign-in through an upstream provider succeeded (`realm`: tenant or Workspace domain).
    SsoSignIn {
        person_id: &'a str,
        provider: &'a str,
        realm: Option<&'a str>,
        client_id: Option<&'a str>,
        firm_id: Option<&'a str>,
    },
    /// An upstream round trip (sign-in or linking) refused: `reason` says why (`state_unknown`,
    /// `state_replayed`, `foreign_browser`, `upstream_error`, `token_rejected`, `wrong_tenant`,
    /// `not_linked`, ...). Never a code or a token.
    SsoFailed {
        person_id: Option<&'a str>,
        provider: &'a str,
        purpose: &'a str,
        reason: &'a str,
    },
    /// An upstream account linked to a person: `how` is `profile` (from My Profile),
    /// `verified_email` (first sign-in) or `joined` (just-in-time membership).
    SsoLinked {
        person_id: &'a str,
        provider: &'a str,
        realm: Option<&'a str>,
        how: &'a str,
        firm_id: Option<&'a str>,
    },
    SsoUnlinked {
        person_id: &'a str,
        provider: &'a str,
        realm: Option<&'a str>,
    },
}

/// A row of the audit table.
#[derive(Clone, Debug)]
pub struct AuditRecord {
    pub id: String,
    pub at: UnixTime,
    pub kind: &'static str,
    pub outcome: &'static str,
    pub firm_id: Option<String>,
    pub person_id: Option<String>,
    pub client_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
}

impl AuditEvent<'_> {
    pub fn to_record(&self, actor: &Actor, at: UnixTime) -> AuditRecord {
        let own = |s: &str| Some(s.to_owned());
        let mut r = AuditRecord {
            id: random_id(),
            at,
            kind: "",
            outcome: "success",
            firm_id: None,
            person_id: None,
            client_id: None,
            ip: actor.ip.clone(),
            user_agent: actor.user_agent.clone(),
            detail: None,
        };
        match self {
            AuditEvent::SignIn {
                person_id,
                firm_id,
                client_id,
            } => {
                r.kind = "sign_in";
                r.person_id = own(person_id);
                r.firm_id = firm_id.map(str::to_owned);
                r.client_id = own(client_id);
            }
            AuditEvent::SignInFailed {
                person_id,
                client_id,
                reason,
            } => {
                r.kind = "sign_in";
                r.outcome = "failure";
                r.person_id = person_id.map(str::to_owned);
                r.client_id = own(client_id);
                r.detail = Some(json!({ "reason": reason }).to_string());
            }
            AuditEvent::SignInThrottled {
                person_id,
                client_id,
            } => {
                r.kind = "sign_in";
                r.outcome = "throttled";
                r.person_id = person_id.map(str::to_owned);
                r.client_id = own(client_id);
            }
            AuditEvent::SignOut {
                person_id,
                session_id,
            } => {
                r.kind = "sign_out";
                r.person_id = own(person_id);
                r.detail = Some(json!({ "sid": session_id }).to_string());
            }
            AuditEvent::Consent {
                person_id,
                client_id,
                decision,
                scope,
            } => {
                r.kind = "consent";
                r.outcome = if *decision == "allow" {
                    "success"
                } else {
                    "denied"
                };
                r.person_id = own(person_id);
                r.client_id = own(client_id);
                r.detail = Some(json!({ "scope": scope }).to_string());
            }
            AuditEvent::CodeReplayed {
                client_id,
                grant_id,
            } => {
                r.kind = "code_replayed";
                r.outcome = "refused";
                r.client_id = own(client_id);
                r.detail = Some(json!({ "revoked_grant": grant_id }).to_string());
            }
            AuditEvent::RefreshReplayed {
                client_id,
                grant_id,
            } => {
                r.kind = "refresh_replayed";
                r.outcome = "refused";
                r.client_id = own(client_id);
                r.detail = Some(json!({ "revoked_grant": grant_id }).to_string());
            }
            AuditEvent::ClientAuthFailed { client_id } => {
                r.kind = "client_auth";
                r.outcome = "failure";
                r.client_id = own(client_id);
            }
            AuditEvent::TokenRevoked { client_id, what } => {
                r.kind = "token_revoked";
                r.client_id = own(client_id);
                r.detail = Some(json!({ "token": what }).to_string());
            }
            AuditEvent::FirmCreated { firm_id } => {
                r.kind = "firm_created";
                r.firm_id = own(firm_id);
            }
            AuditEvent::PersonAdded {
                person_id,
                firm_id,
                role,
                new_person,
            } => {
                r.kind = "membership_added";
                r.person_id = own(person_id);
                r.firm_id = own(firm_id);
                r.detail = Some(json!({ "role": role, "new_person": new_person }).to_string());
            }
            AuditEvent::ClientCreated { client_id, firm_id } => {
                r.kind = "client_created";
                r.client_id = own(client_id);
                r.firm_id = firm_id.map(str::to_owned);
            }
            AuditEvent::PasswordChanged { person_id, how } => {
                r.kind = "password_changed";
                r.person_id = own(person_id);
                r.detail = Some(json!({ "how": how }).to_string());
            }
            AuditEvent::PasswordResetRequested { person_id, sent } => {
                r.kind = "password_reset_requested";
                r.outcome = if *sent { "sent" } else { "not_sent" };
                r.person_id = person_id.map(str::to_owned);
            }
            AuditEvent::PersonInvited {
                person_id,
                firm_id,
                role,
                new_person,
            } => {
                r.kind = "invitation";
                r.person_id = own(person_id);
                r.firm_id = own(firm_id);
                r.detail = Some(json!({ "role": role, "new_person": new_person }).to_string());
            }
            AuditEvent::PolicyChanged {
                firm_id,
                setting,
                old,
                new,
            } => {
                r.kind = "policy_changed";
                r.firm_id = own(firm_id);
                r.detail = Some(json!({ "setting": setting, "old": old, "new": new }).to_string());
            }
            AuditEvent::PasswordResetSentByAdmin { person_id, firm_id } => {
                r.kind = "password_reset_requested";
                r.outcome = "sent_by_admin";
                r.person_id = own(person_id);
                r.firm_id = own(firm_id);
            }
            AuditEvent::PasswordChangeRefused { person_id, reason } => {
                r.kind = "password_changed";
                r.outcome = "failure";
                r.person_id = own(person_id);
                r.detail = Some(json!({ "reason": reason }).to_string());
            }
            AuditEvent::ProfileChanged { person_id } => {
                r.kind = "profile_changed";
                r.person_id = own(person_id);
            }
            AuditEvent::Mfa {
                person_id,
                action,
                outcome,
                method,
                firm_id,
            } => {
                r.kind = "mfa";
                r.outcome = outcome;
                r.person_id = own(person_id);
                r.firm_id = firm_id.map(str::to_owned);
                r.detail = Some(json!({ "action": action, "method": method }).to_string());
            }
            AuditEvent::BackchannelLogout {
                person_id,
                client_id,
                session_id,
                delivered,
                attempts,
            } => {
                r.kind = "backchannel_logout";
                r.outcome = if *delivered { "success" } else { "failure" };
                r.person_id = own(person_id);
                r.client_id = own(client_id);
                r.detail = Some(json!({ "sid": session_id, "attempts": attempts }).to_string());
            }
            AuditEvent::SsoSignIn {
                person_id,
                provider,
                realm,
                client_id,
                firm_id,
            } => {
                r.kind = "sso_sign_in";
                r.person_id = own(person_id);
                r.client_id = client_id.map(str::to_owned);
                r.firm_id = firm_id.map(str::to_owned);
                r.detail = Some(json!({ "provider": provider, "realm": realm }).to_string());
            }
            AuditEvent::SsoFailed {
                person_id,
                provider,
                purpose,
                reason,
            } => {
                r.kind = "sso_failed";
                r.outcome = "failure";
                r.person_id = person_id.map(str::to_owned);
                r.detail = Some(
                    json!({ "provider": provider, "purpose": purpose, "reason": reason })
                        .to_string(),
                );
            }
            AuditEvent::SsoLinked {
                person_id,
                provider,
                realm,
                how,
                firm_id,
            } => {
                r.kind = "sso_linked";
                r.person_id = own(person_id);
                r.firm_id = firm_id.map(str::to_owned);
                r.detail =
                    Some(json!({ "provider": provider, "realm": realm, "how": how }).to_string());
            }
            AuditEvent::SsoUnlinked {
                person_id,
                provider,
                realm,
            } => {
                r.kind = "sso_unlinked";
                r.person_id = own(person_id);
                r.detail = Some(json!({ "provider": provider, "realm": realm }).to_string());
            }
            AuditEvent::PolicyRefused {
                person_id,
                firm_id,
                client_id,
                rule,
            } => {
                r.kind = "policy_refused";
                r.outcome = "refused";
                r.person_id = own(person_id);
                r.firm_id = own(firm_id);
                r.client_id = own(client_id);
                r.detail = Some(json!({ "rule": rule }).to_string());
            }
            AuditEvent::ClientChanged {
                client_id,
                firm_id,
                change,
            } => {
                r.kind = "client_changed";
                r.client_id = own(client_id);
                r.firm_id = own(firm_id);
                r.detail = Some(json!({ "change": change }).to_string());
            }
            AuditEvent::MembershipChanged {
                firm_id,
                person_id,
                by,
                change,
                old,
                new,
            } => {
                r.kind = "membership_changed";
                r.firm_id = own(firm_id);
                r.person_id = own(person_id);
                r.detail =
                    Some(json!({ "change": change, "old": old, "new": new, "by": by }).to_string());
            }
            AuditEvent::AdminAccessRefused {
                person_id,
                firm_id,
                path,
            } => {
                r.kind = "admin_access";
                r.outcome = "refused";
                r.person_id = own(person_id);
                // The firm asked for, which need not exist; kept in the detail, not as a link.
                r.detail = Some(json!({ "firm": firm_id, "path": path }).to_string());
            }
            AuditEvent::SessionsEnded {
                person_id,
                which,
                count,
            } => {
                r.kind = "sign_out";
                r.person_id = own(person_id);
                r.detail = Some(json!({ "sessions": which, "count": count }).to_string());
            }
            AuditEvent::KeysRotated { kids } => {
                r.kind = "keys_rotated";
                r.detail = Some(json!({ "new_kids": kids }).to_string());
            }
        }
        r
    }
}

/// Writes one audit event. A failure to audit is an error for the caller: security events are
/// not silently dropped.
pub async fn record(
    store: &Store,
    event: AuditEvent<'_>,
    actor: &Actor,
    now: UnixTime,
) -> StoreResult<()> {
    let record = event.to_record(actor, now);
    crate::observe::metrics::audit_event(record.kind, record.outcome);
    store.insert_audit(&record).await
}
