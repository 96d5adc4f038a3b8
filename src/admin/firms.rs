//! Creating firms.

use super::AdminError;
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent};
use crate::crypto::bearer::random_id;
use crate::policy::hours::SignInHours;
use crate::policy::network::{format_allowlist, parse_allowlist};
use crate::policy::{known_time_zone, sso, MfaMode, SsoMode};
use crate::store::firms::{ExemptFrom, Firm, FirmSetting, FirmTextSetting};

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
        created_at: now,
        ..Firm::default()
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

/// Checks a comma-separated list and gives its stored form.
type ListParser = fn(&str) -> Result<String, String>;

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
    /// Sessions older than this must sign in again; 0 = the server's limit.
    pub max_session_age_secs: Option<i64>,
    /// `required`, `prompt` or `off`.
    pub mfa: Option<String>,
    /// `off`, `microsoft`, `google` or `any`.
    pub sso: Option<String>,
    /// Comma-separated CIDRs; empty = anywhere.
    pub ip_allow: Option<String>,
    /// Like `Mon-Fri 07:00-19:00`; `always` or empty = any time.
    pub sign_in_hours: Option<String>,
    /// IANA name, the zone of the sign-in hours.
    pub time_zone: Option<String>,
    /// Comma-separated Entra tenant ids whose Microsoft accounts the firm accepts.
    pub microsoft_tenants: Option<String>,
    /// Comma-separated Google Workspace domains (the `hd` claim) the firm accepts.
    pub google_domains: Option<String>,
    /// Comma-separated names of generic upstreams the firm accepts.
    pub oidc_upstreams: Option<String>,
    /// Comma-separated e-mail domains the firm owns.
    pub email_domains: Option<String>,
    /// Comma-separated upstreams whose MFA stands in for firmgate's challenge.
    pub upstream_mfa: Option<String>,
    /// Verified people of the firm's own tenant or domain join at their first SSO sign-in.
    pub sso_join: Option<bool>,
    /// (rule, e-mail of a member, exempt or not).
    pub exemptions: Vec<(ExemptFrom, String, bool)>,
}

impl PolicyChange {
    /// The text settings, each checked and in its stored form.
    fn checked_text(&self) -> Result<Vec<(FirmTextSetting, String)>, AdminError> {
        let invalid = AdminError::Invalid;
        let mut changes = Vec::new();
        if let Some(m) = &self.mfa {
            let mode: MfaMode = m.trim().parse().map_err(invalid)?;
            changes.push((FirmTextSetting::MfaMode, mode.as_str().to_owned()));
        }
        if let Some(m) = &self.sso {
            let mode: SsoMode = m.trim().parse().map_err(invalid)?;
            changes.push((FirmTextSetting::SsoMode, mode.as_str().to_owned()));
        }
        if let Some(list) = &self.ip_allow {
            let nets = parse_allowlist(list).map_err(invalid)?;
            changes.push((FirmTextSetting::IpAllow, format_allowlist(&nets)));
        }
        if let Some(h) = &self.sign_in_hours {
            let h = h.trim();
            let stored = if h.is_empty() || h.eq_ignore_ascii_case("always") {
                String::new()
            } else {
                SignInHours::parse(h).map_err(invalid)?.to_string()
            };
            changes.push((FirmTextSetting::SigninHours, stored));
        }
        if let Some(tz) = &self.time_zone {
            let tz = tz.trim();
            if !known_time_zone(tz) {
                return Err(AdminError::Invalid(format!(
                    "time zone {tz:?} is not an IANA name such as Europe/London or Australia/Sydney"
                )));
            }
            changes.push((FirmTextSetting::TimeZone, tz.to_owned()));
        }
        let lists: [(&Option<String>, FirmTextSetting, ListParser); 5] = [
            (
                &self.microsoft_tenants,
                FirmTextSetting::MicrosoftTenants,
                sso::parse_firm_tenants,
            ),
            (
                &self.google_domains,
                FirmTextSetting::GoogleDomains,
                sso::parse_domains,
            ),
            (
                &self.oidc_upstreams,
                FirmTextSetting::OidcUpstreams,
                sso::parse_upstream_names,
            ),
            (
                &self.email_domains,
                FirmTextSetting::EmailDomains,
                sso::parse_domains,
            ),
            (
                &self.upstream_mfa,
                FirmTextSetting::UpstreamMfa,
                sso::parse_upstream_names,
            ),
        ];
        for (value, setting, parse) in lists {
            if let Some(list) = value {
                let list = if list.trim() == "none" { "" } else { list };
                changes.push((setting, parse(list).map_err(invalid)?));
            }
        }
        Ok(changes)
    }

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
        if let Some(on) = self.sso_join {
            changes.push((FirmSetting::SsoJoin, i64::from(on)));
        }
        if let Some(secs) = self.max_session_age_secs {
            if secs != 0 && !(300..=30 * 86400).contains(&secs) {
                return Err(AdminError::Invalid(
                    "the maximum session age must be 0 (the server's limit) or between 5 minutes and 30 days".into(),
                ));
            }
            changes.push((FirmSetting::MaxSessionAgeSecs, secs));
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
    let text_changes = change.checked_text()?;
    let firm = state
        .store
        .firm(firm_id)
        .await?
        .ok_or_else(|| AdminError::NoSuchFirm(firm_id.to_owned()))?;
    // Every exemption names a member of this firm; resolved before anything changes.
    let mut exemptions = Vec::new();
    for (rule, email, exempt) in &change.exemptions {
        let person = match state.store.person_by_email(email).await? {
            Some(p) if state.store.membership(firm_id, &p.id).await?.is_some() => p,
            _ => {
                return Err(AdminError::Invalid(format!(
                    "no member of this firm has the e-mail address {email}"
                )))
            }
        };
        exemptions.push((*rule, person, *exempt));
    }
    let now = state.clock.now();
    // Unchanged values are neither written nor audited.
    let changes = changes
        .into_iter()
        .filter(|(setting, value)| setting.current(&firm) != *value);
    let text_changes = text_changes
        .into_iter()
        .filter(|(setting, value)| setting.current(&firm) != value.as_str());
    for (setting, value) in changes {
        state
            .store
            .set_firm_setting(firm_id, setting, value)
            .await?;
        record_change(
            state,
            firm_id,
            setting.column(),
            &setting.current(&firm).to_string(),
            &value.to_string(),
            actor,
            now,
        )
        .await?;
    }
    for (setting, value) in text_changes {
        state
            .store
            .set_firm_text_setting(firm_id, setting, &value)
            .await?;
        record_change(
            state,
            firm_id,
            setting.column(),
            setting.current(&firm),
            &value,
            actor,
            now,
        )
        .await?;
    }
    for (rule, person, exempt) in exemptions {
        if state
            .store
            .set_exemption(firm_id, &person.id, rule, exempt, now)
            .await?
        {
            let (old, new) = if exempt {
                ("", person.email.as_str())
            } else {
                (person.email.as_str(), "")
            };
            let setting = match rule {
                ExemptFrom::Mfa => "mfa_exemption",
                ExemptFrom::Sso => "sso_exemption",
            };
            record_change(state, firm_id, setting, old, new, actor, now).await?;
        }
    }
    state
        .store
        .firm(firm_id)
        .await?
        .ok_or_else(|| AdminError::NoSuchFirm(firm_id.to_owned()))
}

#[allow(clippy::too_many_arguments)]
async fn record_change(
    state: &AppState,
    firm_id: &str,
    setting: &str,
    old: &str,
    new: &str,
    actor: &Actor,
    now: i64,
) -> Result<(), AdminError> {
    audit::record(
        &state.store,
        AuditEvent::PolicyChanged {
            firm_id,
            setting,
            old,
            new,
        },
        actor,
        now,
    )
    .await?;
    Ok(())
}

/// A firm's settings as one JSON object: what `firm policy --json` prints and the admin API
/// returns.
pub async fn policy_json(state: &AppState, firm: &Firm) -> Result<serde_json::Value, AdminError> {
    Ok(serde_json::json!({
        "id": firm.id,
        "mfa": firm.mfa_mode,
        "require_sso": firm.sso_mode,
        "ip_allow": firm.ip_allow,
        "sign_in_hours": firm.signin_hours,
        "time_zone": firm.time_zone,
        "idle_timeout_secs": firm.idle_timeout_secs,
        "max_session_age_secs": firm.max_session_age_secs,
        "password_min_length": firm.password_min_length,
        "password_max_age_days": firm.password_max_age_days,
        "password_reuse_limit": firm.password_reuse_limit,
        "password_composition": firm.password_composition != 0,
        "microsoft_tenants": sso::split_list(&firm.microsoft_tenants),
        "google_domains": sso::split_list(&firm.google_domains),
        "oidc_upstreams": sso::split_list(&firm.oidc_upstreams),
        "email_domains": sso::split_list(&firm.email_domains),
        "trust_upstream_mfa": sso::split_list(&firm.upstream_mfa),
        "sso_join": firm.sso_join != 0,
        "mfa_exempt": state.store.exempted(&firm.id, ExemptFrom::Mfa).await?,
        "sso_exempt": state.store.exempted(&firm.id, ExemptFrom::Sso).await?,
    }))
}
