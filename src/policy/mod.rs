//! The firm policy model and its evaluation: pure functions, no I/O, no axum, no sqlx.
//! `FirmPolicy::verdict` turns a firm's settings, the person's exclusions, the client address and
//! the time into the facts `signin::flow::next_step` applies; the refresh grant and UserInfo
//! apply the network rule from here too.

pub mod hours;
pub mod network;
pub mod password;
pub mod sso;

use std::net::IpAddr;
use std::str::FromStr;

use chrono::{Datelike, TimeZone, Timelike};
use ipnet::IpNet;

use crate::clock::UnixTime;
use hours::SignInHours;
use sso::{SsoTrust, UpstreamUse};

/// The default inactivity sign-out: 8 hours.
pub const DEFAULT_IDLE_TIMEOUT_SECS: i64 = 8 * 3600;

/// The firm's MFA rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MfaMode {
    /// People without MFA set it up at their next sign-in; they cannot postpone it.
    Required,
    /// People without MFA are offered set-up at each sign-in and may skip (the default).
    #[default]
    Prompt,
    /// No offer. (People who turned MFA on themselves are still challenged.)
    Off,
}

impl MfaMode {
    pub const NAMES: [&'static str; 3] = ["required", "prompt", "off"];
    pub fn as_str(self) -> &'static str {
        match self {
            MfaMode::Required => "required",
            MfaMode::Prompt => "prompt",
            MfaMode::Off => "off",
        }
    }
}

impl FromStr for MfaMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "required" => Ok(MfaMode::Required),
            "prompt" => Ok(MfaMode::Prompt),
            "off" => Ok(MfaMode::Off),
            _ => Err(format!("MFA mode {s:?} must be required, prompt or off")),
        }
    }
}

/// The firm's single sign-on rule: which upstream its people must sign in with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SsoMode {
    #[default]
    Off,
    Microsoft,
    Google,
    Any,
}

impl SsoMode {
    pub const NAMES: [&'static str; 4] = ["off", "microsoft", "google", "any"];
    pub fn as_str(self) -> &'static str {
        match self {
            SsoMode::Off => "off",
            SsoMode::Microsoft => "microsoft",
            SsoMode::Google => "google",
            SsoMode::Any => "any",
        }
    }

    /// The upstreams that satisfy it, for the page that points to them.
    pub fn providers(self) -> &'static [&'static str] {
        match self {
            SsoMode::Off => &[],
            SsoMode::Microsoft => &["microsoft"],
            SsoMode::Google => &["google"],
            SsoMode::Any => &["microsoft", "google"],
        }
    }
}

impl FromStr for SsoMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "off" => Ok(SsoMode::Off),
            "microsoft" => Ok(SsoMode::Microsoft),
            "google" => Ok(SsoMode::Google),
            "any" => Ok(SsoMode::Any),
            _ => Err(format!(
                "SSO mode {s:?} must be off, microsoft, google or any"
            )),
        }
    }
}

/// A firm's sign-in policy as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirmPolicy {
    pub idle_timeout_secs: i64,
    /// Sessions older than this (since sign-in) must sign in again; `None`: the server's limit.
    pub max_session_age_secs: Option<i64>,
    pub mfa: MfaMode,
    pub sso: SsoMode,
    /// Empty: anywhere.
    pub ip_allow: Vec<IpNet>,
    /// `None`: any time.
    pub hours: Option<SignInHours>,
    /// IANA name; the hours are in this zone.
    pub time_zone: String,
    /// The upstream accounts the firm accepts and whose MFA it believes.
    pub sso_trust: SsoTrust,
}

impl Default for FirmPolicy {
    fn default() -> Self {
        FirmPolicy {
            idle_timeout_secs: DEFAULT_IDLE_TIMEOUT_SECS,
            max_session_age_secs: None,
            mfa: MfaMode::default(),
            sso: SsoMode::default(),
            ip_allow: Vec::new(),
            hours: None,
            time_zone: "UTC".to_owned(),
            sso_trust: SsoTrust::default(),
        }
    }
}

/// What the policy needs to know about the person.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PersonStanding {
    pub mfa_excluded: bool,
    pub sso_excluded: bool,
}

/// What the firm asks of this sign-in about a second factor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MfaDemand {
    #[default]
    Nothing,
    /// Offer set-up; the person may skip.
    Offer,
    /// Set-up is required before anything is issued.
    Require,
}

/// The policy applied to one person, address and moment: the facts `next_step` uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirmVerdict {
    pub network_allowed: bool,
    pub within_hours: bool,
    pub idle_timeout_secs: i64,
    pub max_session_age_secs: Option<i64>,
    pub mfa: MfaDemand,
    /// The person must sign in through one of these upstreams (empty: a password is fine).
    pub sso_required: &'static [&'static str],
    /// False when the session came through an upstream account this firm does not accept (a
    /// tenant or Workspace domain it does not list). Always true for a password session.
    pub upstream_accepted: bool,
    /// The session came through an accepted upstream that meets `sso_required`.
    pub sso_satisfied: bool,
    /// The firm lets this session's upstream MFA stand in for its own challenge.
    pub upstream_mfa_trusted: bool,
}

impl Default for FirmVerdict {
    fn default() -> Self {
        FirmPolicy::default().verdict(PersonStanding::default(), None, 0)
    }
}

impl FirmVerdict {
    /// True when a session last active at `last_seen` has been idle longer than the firm allows.
    pub fn idle_expired(&self, last_seen: UnixTime, now: UnixTime) -> bool {
        now - last_seen > self.idle_timeout_secs
    }

    /// True when a session signed in at `auth_time` is older than the firm allows.
    pub fn too_old(&self, auth_time: UnixTime, now: UnixTime) -> bool {
        self.max_session_age_secs
            .is_some_and(|max| now - auth_time > max)
    }
}

impl FirmPolicy {
    /// Whether `now` lies within the firm's sign-in hours, in the firm's time zone.
    pub fn within_hours(&self, now: UnixTime) -> bool {
        let Some(hours) = &self.hours else {
            return true;
        };
        // An unknown zone was refused when it was set; if one ever appears, fail closed.
        let Ok(tz) = chrono_tz::Tz::from_str(&self.time_zone) else {
            return false;
        };
        let Some(local) = tz.timestamp_opt(now, 0).single() else {
            return false;
        };
        let weekday = usize::try_from(local.weekday().num_days_from_monday()).unwrap_or(7);
        hours.allows(weekday, local.hour() * 60 + local.minute())
    }

    pub fn network_allows(&self, ip: Option<IpAddr>) -> bool {
        network::allowed(&self.ip_allow, ip)
    }

    /// The verdict for a password session.
    pub fn verdict(&self, who: PersonStanding, ip: Option<IpAddr>, now: UnixTime) -> FirmVerdict {
        self.verdict_for(who, ip, now, None)
    }

    /// The verdict for a session that came through `via` (an upstream) or a password (`None`).
    pub fn verdict_for(
        &self,
        who: PersonStanding,
        ip: Option<IpAddr>,
        now: UnixTime,
        via: Option<&UpstreamUse<'_>>,
    ) -> FirmVerdict {
        let upstream_accepted = via.is_none_or(|v| self.sso_trust.accepts(v));
        let sso_required = if who.sso_excluded {
            &[]
        } else {
            self.sso.providers()
        };
        let sso_satisfied = via.is_some_and(|v| {
            upstream_accepted
                && match self.sso {
                    SsoMode::Any => true,
                    mode => mode.providers().contains(&v.provider),
                }
        });
        FirmVerdict {
            upstream_accepted,
            sso_satisfied,
            upstream_mfa_trusted: via
                .is_some_and(|v| upstream_accepted && self.sso_trust.trusts_mfa_of(v.provider)),
            network_allowed: self.network_allows(ip),
            within_hours: self.within_hours(now),
            idle_timeout_secs: self.idle_timeout_secs,
            max_session_age_secs: self.max_session_age_secs,
            mfa: match (self.mfa, who.mfa_excluded) {
                (_, true) | (MfaMode::Off, _) => MfaDemand::Nothing,
                (MfaMode::Prompt, false) => MfaDemand::Offer,
                (MfaMode::Required, false) => MfaDemand::Require,
            },
            sso_required,
        }
    }
}

/// Firms in Australia and New Zealand keep two-step sign-in on: their people cannot turn it off
/// themselves (`region` is the firm's ISO 3166 alpha-2 code in lower case).
pub fn region_keeps_mfa(region: Option<&str>) -> bool {
    matches!(region, Some("au" | "nz"))
}

/// A time zone name firmgate knows (the IANA database compiled in).
pub fn known_time_zone(name: &str) -> bool {
    chrono_tz::Tz::from_str(name).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_timeout_slides_and_expires_one_second_after_the_limit() {
        let p = FirmVerdict::default();
        assert!(!p.idle_expired(0, 8 * 3600));
        assert!(p.idle_expired(0, 8 * 3600 + 1));
        let short = FirmPolicy {
            idle_timeout_secs: 1800,
            ..FirmPolicy::default()
        }
        .verdict(PersonStanding::default(), None, 0);
        assert!(!short.idle_expired(0, 1800));
        assert!(short.idle_expired(0, 1801));
    }

    #[test]
    fn hours_are_read_in_the_firms_time_zone() {
        let p = FirmPolicy {
            hours: Some(SignInHours::parse("Mon-Fri 07:00-19:00").unwrap()),
            time_zone: "Australia/Sydney".into(),
            ..FirmPolicy::default()
        };
        // 2026-11-23 is a Monday. 20:30 UTC Sunday = 07:30 Monday in Sydney (UTC+11 in summer).
        let sunday_2030_utc = 1_795_379_400;
        assert!(p.within_hours(sunday_2030_utc));
        // 09:00 UTC Monday = 20:00 Monday in Sydney: after hours.
        assert!(!p.within_hours(sunday_2030_utc + 12 * 3600 + 1800));
        let utc = FirmPolicy {
            time_zone: "UTC".into(),
            ..p.clone()
        };
        assert!(!utc.within_hours(sunday_2030_utc), "Sunday in UTC");
        let broken = FirmPolicy {
            time_zone: "Mars/Olympus".into(),
            ..p
        };
        assert!(
            !broken.within_hours(sunday_2030_utc),
            "an unknown zone fails closed"
        );
        assert!(FirmPolicy::default().within_hours(0), "no hours: any time");
    }

    #[test]
    fn australian_and_new_zealand_firms_keep_mfa_on() {
        assert!(region_keeps_mfa(Some("au")) && region_keeps_mfa(Some("nz")));
        for other in [Some("gb"), Some("us"), Some("AU"), None] {
            assert!(!region_keeps_mfa(other), "{other:?}");
        }
    }

    #[test]
    fn exclusions_lift_the_mfa_and_sso_demands() {
        let p = FirmPolicy {
            mfa: MfaMode::Required,
            sso: SsoMode::Any,
            ..FirmPolicy::default()
        };
        let v = p.verdict(PersonStanding::default(), None, 0);
        assert_eq!(v.mfa, MfaDemand::Require);
        assert_eq!(v.sso_required, &["microsoft", "google"]);
        let excluded = p.verdict(
            PersonStanding {
                mfa_excluded: true,
                sso_excluded: true,
            },
            None,
            0,
        );
        assert_eq!(excluded.mfa, MfaDemand::Nothing);
        assert!(excluded.sso_required.is_empty());
        assert_eq!(
            FirmPolicy::default()
                .verdict(PersonStanding::default(), None, 0)
                .mfa,
            MfaDemand::Offer,
            "prompt is the default"
        );
    }
}
