//! Firms and their policy columns.

use sqlx::{FromRow, Row};

use super::{Columns, Store, StoreError, StoreResult};
use crate::policy::hours::SignInHours;
use crate::policy::network::parse_allowlist;
use crate::policy::password::PasswordPolicy;
use crate::policy::sso::{split_list, SsoTrust};
use crate::policy::{FirmPolicy, PersonStanding};

#[derive(Clone, Debug, FromRow)]
pub struct Firm {
    pub id: String,
    pub name: String,
    pub region: Option<String>,
    pub idle_timeout_secs: i64,
    pub created_at: i64,
    pub password_min_length: i64,
    /// 0 means passwords never expire.
    pub password_max_age_days: i64,
    /// 0 means no reuse limit.
    pub password_reuse_limit: i64,
    pub password_composition: i64,
    pub mfa_mode: String,
    pub sso_mode: String,
    pub ip_allow: String,
    pub signin_hours: String,
    pub time_zone: String,
    /// 0 means the server's limit.
    pub max_session_age_secs: i64,
    pub microsoft_tenants: String,
    pub google_domains: String,
    pub oidc_upstreams: String,
    pub email_domains: String,
    pub upstream_mfa: String,
    pub sso_join: i64,
    /// Shown on the firm's sign-in pages; '' = `name`.
    pub display_name: String,
    /// `image/png`, `image/jpeg`, or '' for no logo (the bytes are read on their own).
    pub logo_type: String,
}

impl Default for Firm {
    fn default() -> Self {
        let policy = FirmPolicy::default();
        Firm {
            id: String::new(),
            name: String::new(),
            region: None,
            idle_timeout_secs: policy.idle_timeout_secs,
            created_at: 0,
            password_min_length: i64::try_from(PasswordPolicy::default().min_length).unwrap_or(12),
            password_max_age_days: 0,
            password_reuse_limit: 0,
            password_composition: 0,
            mfa_mode: policy.mfa.as_str().to_owned(),
            sso_mode: policy.sso.as_str().to_owned(),
            ip_allow: String::new(),
            signin_hours: String::new(),
            time_zone: policy.time_zone,
            max_session_age_secs: 0,
            microsoft_tenants: String::new(),
            google_domains: String::new(),
            oidc_upstreams: String::new(),
            email_domains: String::new(),
            upstream_mfa: String::new(),
            sso_join: 0,
            display_name: String::new(),
            logo_type: String::new(),
        }
    }
}

impl Firm {
    /// The stored settings as the policy model. Values were checked when they were set; one
    /// that no longer parses is a corrupt record, not a silently relaxed rule.
    pub fn policy(&self) -> StoreResult<FirmPolicy> {
        let corrupt = |what: String| StoreError::Corrupt(format!("firm {}: {what}", self.id));
        Ok(FirmPolicy {
            idle_timeout_secs: self.idle_timeout_secs,
            max_session_age_secs: (self.max_session_age_secs > 0)
                .then_some(self.max_session_age_secs),
            mfa: self.mfa_mode.parse().map_err(corrupt)?,
            sso: self.sso_mode.parse().map_err(corrupt)?,
            ip_allow: parse_allowlist(&self.ip_allow).map_err(corrupt)?,
            hours: if self.signin_hours.is_empty() {
                None
            } else {
                Some(SignInHours::parse(&self.signin_hours).map_err(corrupt)?)
            },
            time_zone: self.time_zone.clone(),
            sso_trust: SsoTrust {
                microsoft_tenants: split_list(&self.microsoft_tenants),
                google_domains: split_list(&self.google_domains),
                oidc_upstreams: split_list(&self.oidc_upstreams),
                email_domains: split_list(&self.email_domains),
                upstream_mfa: split_list(&self.upstream_mfa),
                join: self.sso_join != 0,
            },
        })
    }
}

pub(crate) const FIRM_COLUMNS: &str =
    "id, name, region, idle_timeout_secs, created_at, password_min_length, \
     password_max_age_days, password_reuse_limit, password_composition, mfa_mode, sso_mode, \
     ip_allow, signin_hours, time_zone, max_session_age_secs, microsoft_tenants, google_domains, \
          oidc_upstreams, email_domains, upstream_mfa, sso_join, display_name, logo_type";

impl Firm {
    /// Reads the fields in `FIRM_COLUMNS` order from a joined row.
    pub(crate) fn read(c: &mut Columns<'_>) -> StoreResult<Firm> {
        Ok(Firm {
            id: c.take()?,
            name: c.take()?,
            region: c.take()?,
            idle_timeout_secs: c.take()?,
            created_at: c.take()?,
            password_min_length: c.take()?,
            password_max_age_days: c.take()?,
            password_reuse_limit: c.take()?,
            password_composition: c.take()?,
            mfa_mode: c.take()?,
            sso_mode: c.take()?,
            ip_allow: c.take()?,
            signin_hours: c.take()?,
            time_zone: c.take()?,
            max_session_age_secs: c.take()?,
            microsoft_tenants: c.take()?,
            google_domains: c.take()?,
            oidc_upstreams: c.take()?,
            email_domains: c.take()?,
            upstream_mfa: c.take()?,
            sso_join: c.take()?,
            display_name: c.take()?,
            logo_type: c.take()?,
        })
    }
}

/// The strictest password lifecycle of `firms` (one password serves them all): the longest
/// minimum length, composition if any firm asks for it, the shortest maximum age any firm sets,
/// the longest reuse limit; the defaults where no firm sets anything.
pub(crate) fn strictest_password_policy(firms: &[Firm]) -> PasswordPolicy {
    let defaults = PasswordPolicy::default();
    PasswordPolicy {
        min_length: firms
            .iter()
            .map(|f| f.password_min_length)
            .max()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(defaults.min_length),
        composition: firms.iter().any(|f| f.password_composition != 0),
        max_age_days: firms
            .iter()
            .map(|f| f.password_max_age_days)
            .filter(|d| *d > 0)
            .min(),
        reuse_limit: firms
            .iter()
            .map(|f| f.password_reuse_limit)
            .max()
            .unwrap_or(defaults.reuse_limit),
    }
}

/// The numeric policy settings a firm admin may change, each one column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FirmSetting {
    IdleTimeoutSecs,
    PasswordMinLength,
    PasswordMaxAgeDays,
    PasswordReuseLimit,
    PasswordComposition,
    MaxSessionAgeSecs,
    /// 0/1: verified people of the firm's tenant or domain join at their first SSO sign-in.
    SsoJoin,
}

/// The text policy settings, each one column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FirmTextSetting {
    MfaMode,
    SsoMode,
    IpAllow,
    SigninHours,
    TimeZone,
    MicrosoftTenants,
    GoogleDomains,
    OidcUpstreams,
    EmailDomains,
    UpstreamMfa,
}

impl FirmTextSetting {
    pub fn column(self) -> &'static str {
        match self {
            FirmTextSetting::MfaMode => "mfa_mode",
            FirmTextSetting::SsoMode => "sso_mode",
            FirmTextSetting::IpAllow => "ip_allow",
            FirmTextSetting::SigninHours => "signin_hours",
            FirmTextSetting::TimeZone => "time_zone",
            FirmTextSetting::MicrosoftTenants => "microsoft_tenants",
            FirmTextSetting::GoogleDomains => "google_domains",
            FirmTextSetting::OidcUpstreams => "oidc_upstreams",
            FirmTextSetting::EmailDomains => "email_domains",
            FirmTextSetting::UpstreamMfa => "upstream_mfa",
        }
    }

    pub fn current(self, firm: &Firm) -> &str {
        match self {
            FirmTextSetting::MfaMode => &firm.mfa_mode,
            FirmTextSetting::SsoMode => &firm.sso_mode,
            FirmTextSetting::IpAllow => &firm.ip_allow,
            FirmTextSetting::SigninHours => &firm.signin_hours,
            FirmTextSetting::TimeZone => &firm.time_zone,
            FirmTextSetting::MicrosoftTenants => &firm.microsoft_tenants,
            FirmTextSetting::GoogleDomains => &firm.google_domains,
            FirmTextSetting::OidcUpstreams => &firm.oidc_upstreams,
            FirmTextSetting::EmailDomains => &firm.email_domains,
            FirmTextSetting::UpstreamMfa => &firm.upstream_mfa,
        }
    }
}

/// The rules a firm may exempt a person from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExemptFrom {
    Mfa,
    Sso,
}

impl ExemptFrom {
    pub fn as_str(self) -> &'static str {
        match self {
            ExemptFrom::Mfa => "mfa",
            ExemptFrom::Sso => "sso",
        }
    }
}

impl FirmSetting {
    pub fn column(self) -> &'static str {
        match self {
            FirmSetting::IdleTimeoutSecs => "idle_timeout_secs",
            FirmSetting::PasswordMinLength => "password_min_length",
            FirmSetting::PasswordMaxAgeDays => "password_max_age_days",
            FirmSetting::PasswordReuseLimit => "password_reuse_limit",
            FirmSetting::PasswordComposition => "password_composition",
            FirmSetting::MaxSessionAgeSecs => "max_session_age_secs",
            FirmSetting::SsoJoin => "sso_join",
        }
    }

    pub fn current(self, firm: &Firm) -> i64 {
        match self {
            FirmSetting::IdleTimeoutSecs => firm.idle_timeout_secs,
            FirmSetting::PasswordMinLength => firm.password_min_length,
            FirmSetting::PasswordMaxAgeDays => firm.password_max_age_days,
            FirmSetting::PasswordReuseLimit => firm.password_reuse_limit,
            FirmSetting::PasswordComposition => firm.password_composition,
            FirmSetting::MaxSessionAgeSecs => firm.max_session_age_secs,
            FirmSetting::SsoJoin => firm.sso_join,
        }
    }
}

impl Store {
    pub async fn insert_firm(&self, firm: &Firm) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO firms ({FIRM_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
                          $16, $17, $18, $19, $20, $21, $22, $23)"
        ))
        .bind(&firm.id)
        .bind(&firm.name)
        .bind(&firm.region)
        .bind(firm.idle_timeout_secs)
        .bind(firm.created_at)
        .bind(firm.password_min_length)
        .bind(firm.password_max_age_days)
        .bind(firm.password_reuse_limit)
        .bind(firm.password_composition)
        .bind(&firm.mfa_mode)
        .bind(&firm.sso_mode)
        .bind(&firm.ip_allow)
        .bind(&firm.signin_hours)
        .bind(&firm.time_zone)
        .bind(firm.max_session_age_secs)
        .bind(&firm.microsoft_tenants)
        .bind(&firm.google_domains)
        .bind(&firm.oidc_upstreams)
        .bind(&firm.email_domains)
        .bind(&firm.upstream_mfa)
                .bind(firm.sso_join)
        .bind(&firm.display_name)
        .bind(&firm.logo_type)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    pub async fn firm(&self, id: &str) -> StoreResult<Option<Firm>> {
        Ok(
            sqlx::query_as::<_, Firm>(&format!("SELECT {FIRM_COLUMNS} FROM firms WHERE id = $1"))
                .bind(id)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    pub async fn count_firms(&self) -> StoreResult<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM firms")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get::<i64, _>("n")?)
    }

    /// Sets one policy setting; `false` when there is no such firm.
    pub async fn set_firm_setting(
        &self,
        firm_id: &str,
        setting: FirmSetting,
        value: i64,
    ) -> StoreResult<bool> {
        // The column name comes from the closed `FirmSetting` list, never from input.
        let sql = format!("UPDATE firms SET {} = $1 WHERE id = $2", setting.column());
        let done = sqlx::query(&sql)
            .bind(value)
            .bind(firm_id)
            .execute(self.writer())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn set_firm_text_setting(
        &self,
        firm_id: &str,
        setting: FirmTextSetting,
        value: &str,
    ) -> StoreResult<bool> {
        // The column name comes from the closed `FirmTextSetting` list, never from input.
        let sql = format!("UPDATE firms SET {} = $1 WHERE id = $2", setting.column());
        let done = sqlx::query(&sql)
            .bind(value)
            .bind(firm_id)
            .execute(self.writer())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn set_firm_display_name(&self, firm_id: &str, name: &str) -> StoreResult<()> {
        sqlx::query("UPDATE firms SET display_name = $1 WHERE id = $2")
            .bind(name)
            .bind(firm_id)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Replaces the logo (`content_type` '' and `base64` '' remove it).
    pub async fn set_firm_logo(
        &self,
        firm_id: &str,
        content_type: &str,
        base64: &str,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE firms SET logo_type = $1, logo_data = $2 WHERE id = $3")
            .bind(content_type)
            .bind(base64)
            .bind(firm_id)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// (content type, base64 bytes) of the firm's logo, if it has one.
    pub async fn firm_logo(&self, firm_id: &str) -> StoreResult<Option<(String, String)>> {
        let row = sqlx::query("SELECT logo_type, logo_data FROM firms WHERE id = $1")
            .bind(firm_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(r) => {
                let t: String = r.try_get("logo_type")?;
                let d: String = r.try_get("logo_data")?;
                (!t.is_empty() && !d.is_empty()).then_some((t, d))
            }
            None => None,
        })
    }

    /// The firm's policy, if the firm exists.
    pub async fn firm_policy(&self, firm_id: &str) -> StoreResult<Option<FirmPolicy>> {
        self.firm(firm_id).await?.map(|f| f.policy()).transpose()
    }

    /// What the firm exempts this person from.
    pub async fn standing(&self, firm_id: &str, person_id: &str) -> StoreResult<PersonStanding> {
        let rows = sqlx::query(
            "SELECT policy FROM policy_exclusions WHERE firm_id = $1 AND person_id = $2",
        )
        .bind(firm_id)
        .bind(person_id)
        .fetch_all(self.pool())
        .await?;
        let mut standing = PersonStanding::default();
        for r in rows {
            match r.try_get::<String, _>("policy")?.as_str() {
                "mfa" => standing.mfa_excluded = true,
                "sso" => standing.sso_excluded = true,
                _ => {}
            }
        }
        Ok(standing)
    }

    /// Exempts (or no longer exempts) a person; `true` if something changed.
    pub async fn set_exemption(
        &self,
        firm_id: &str,
        person_id: &str,
        rule: ExemptFrom,
        exempt: bool,
        now: i64,
    ) -> StoreResult<bool> {
        let done = if exempt {
            sqlx::query(
                "INSERT INTO policy_exclusions (firm_id, person_id, policy, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (firm_id, person_id, policy) DO NOTHING",
            )
            .bind(firm_id)
            .bind(person_id)
            .bind(rule.as_str())
            .bind(now)
            .execute(self.writer())
            .await?
        } else {
            sqlx::query(
                "DELETE FROM policy_exclusions WHERE firm_id = $1 AND person_id = $2 AND policy = $3",
            )
            .bind(firm_id)
            .bind(person_id)
            .bind(rule.as_str())
            .execute(self.writer())
            .await?
        };
        Ok(done.rows_affected() == 1)
    }

    /// The e-mail addresses a firm exempts from `rule`.
    pub async fn exempted(&self, firm_id: &str, rule: ExemptFrom) -> StoreResult<Vec<String>> {
        let rows = sqlx::query(
            "SELECT p.email FROM policy_exclusions x JOIN people p ON p.id = x.person_id \
             WHERE x.firm_id = $1 AND x.policy = $2 ORDER BY p.email_key",
        )
        .bind(firm_id)
        .bind(rule.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("email").map_err(Into::into))
            .collect()
    }

    /// The strictest password lifecycle among the firms a person belongs to (one password serves
    /// them all); the defaults for a person in no firm.
    pub async fn password_policy_for(&self, person_id: &str) -> StoreResult<PasswordPolicy> {
        let sql = format!(
            "SELECT {} FROM memberships m JOIN firms f ON f.id = m.firm_id WHERE m.person_id = $1",
            super::qualified(FIRM_COLUMNS, "f")
        );
        let firms = sqlx::query(&sql)
            .bind(person_id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| Firm::read(&mut Columns::new(row)))
            .collect::<StoreResult<Vec<Firm>>>()?;
        Ok(strictest_password_policy(&firms))
    }

    /// The shortest idle sign-out among the person's firms (My Profile serves them all).
    pub async fn shortest_idle_timeout_for(&self, person_id: &str) -> StoreResult<Option<i64>> {
        let row = sqlx::query(
            "SELECT MIN(f.idle_timeout_secs) AS m FROM memberships m JOIN firms f ON f.id = m.firm_id WHERE m.person_id = $1",
        )
        .bind(person_id)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get::<Option<i64>, _>("m")?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_strictest_password_rule_of_each_kind_applies() {
        assert_eq!(strictest_password_policy(&[]), PasswordPolicy::default());
        let firm = |min, composition, max_age, reuse| Firm {
            password_min_length: min,
            password_composition: composition,
            password_max_age_days: max_age,
            password_reuse_limit: reuse,
            ..Firm::default()
        };
        assert_eq!(
            strictest_password_policy(&[firm(14, 0, 0, 3), firm(10, 1, 90, 0), firm(12, 0, 30, 5)]),
            PasswordPolicy {
                min_length: 14,
                composition: true,
                max_age_days: Some(30),
                reuse_limit: 5,
            }
        );
        // 0 days means "never expires", not "expired at once".
        assert_eq!(
            strictest_password_policy(&[firm(12, 0, 0, 0)]).max_age_days,
            None
        );
    }
}
