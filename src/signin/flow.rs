//! The one place that orders the sign-in steps. `next_step` looks at the request, the browser
//! session, the firm and the consent state and says what is missing. Page handlers do their one
//! job and come back here; none decides the order itself. Pure: no I/O, no axum, no sqlx.

use crate::clock::UnixTime;
use crate::policy::{FirmVerdict, MfaDemand};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Login,
    /// The person has MFA on (or the request asks for it) and this session has not proved it.
    ChallengeMfa,
    /// A second factor is needed (the firm requires it, or the relying party insists on the MFA
    /// acr) and the person has none yet: set it up before anything is issued.
    EnrolMfa,
    /// The firm offers two-step set-up to people without it; the person may skip.
    OfferMfa,
    /// The firm requires single sign-on through these upstreams; a password session is not
    /// enough.
    SsoRequired(&'static [&'static str]),
    /// A temporary (invitation) password must be replaced, with the profile set up, or the
    /// password has expired under a firm's policy.
    ChangePassword,
    SelectFirm,
    Consent,
    Issue,
    Deny(Denial),
}

/// Why the request ends without a code; each maps to one OAuth / OIDC error code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Denial {
    /// OIDC Core §3.1.2.6 `login_required`.
    LoginRequired,
    /// OIDC Core §3.1.2.6 `consent_required`.
    ConsentRequired,
    /// OIDC Core §3.1.2.6 `interaction_required`.
    InteractionRequired,
    /// RFC 6749 §4.1.2.1 `access_denied`, with the reason shown to the relying party.
    AccessDenied(&'static str),
    /// `access_denied`: the firm's IP allowlist does not include the client's address.
    NetworkRefused,
    /// `access_denied`: outside the firm's sign-in days and hours.
    OutsideHours,
}

impl Denial {
    pub fn error_code(&self) -> &'static str {
        match self {
            Denial::LoginRequired => "login_required",
            Denial::ConsentRequired => "consent_required",
            Denial::InteractionRequired => "interaction_required",
            Denial::AccessDenied(_) | Denial::NetworkRefused | Denial::OutsideHours => {
                "access_denied"
            }
        }
    }

    pub fn description(&self) -> &'static str {
        match self {
            Denial::LoginRequired => "the user must sign in",
            Denial::ConsentRequired => "the user must consent",
            Denial::InteractionRequired => "the user must interact with firmgate",
            Denial::AccessDenied(why) => why,
            Denial::NetworkRefused => "the user's firm does not allow sign-in from this network",
            Denial::OutsideHours => "the user's firm does not allow sign-in at this time",
        }
    }

    /// The firm rule behind a policy refusal, for the audit log.
    pub fn policy_rule(&self) -> Option<&'static str> {
        match self {
            Denial::NetworkRefused => Some("ip_allowlist"),
            Denial::OutsideHours => Some("sign_in_hours"),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionFacts {
    pub auth_time: UnixTime,
    pub last_seen_at: UnixTime,
    /// The person signed in during this very interaction.
    pub authenticated_here: bool,
    /// The id_token_hint named someone else.
    pub hint_mismatch: bool,
    /// The session came from single sign-on (an upstream), not a password.
    pub federated: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FirmFacts {
    /// The firm this sign-in is for, and its policy applied to this person, address and time.
    Resolved(FirmVerdict),
    /// Several memberships and the client serves all firms: the person picks one.
    Choose,
    /// The person is not a member of the firm the client belongs to (or of any firm).
    NotMember,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MfaFacts {
    /// The person has an active TOTP factor.
    pub enrolled: bool,
    /// This session's sign-in included the second factor.
    pub verified_in_session: bool,
    /// The request asks for the MFA acr (`acr_values` or an essential `acr` claim).
    pub requested: bool,
    /// The answer to the firm's set-up offer in this interaction: `Some(true)` set up now,
    /// `Some(false)` not now.
    pub offer_answer: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsentFacts {
    pub first_party: bool,
    /// Remembered consent covers every requested scope.
    pub remembered: bool,
    /// `offline_access` was requested: OIDC Core §11 wants consent for it in this request.
    pub offline_requested: bool,
    /// The answer given on the consent page of this interaction.
    pub decision_here: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowInput {
    pub now: UnixTime,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    /// `None` when the browser has no live session.
    pub session: Option<SessionFacts>,
    /// Meaningful only with a session.
    pub firm: FirmFacts,
    pub consent: ConsentFacts,
    /// The person signed in with a temporary password that must be replaced first.
    pub password_change_required: bool,
    pub mfa: MfaFacts,
}

pub fn next_step(input: &FlowInput) -> Step {
    let login_or = |denial: Denial| {
        if input.prompt.none {
            Step::Deny(denial)
        } else {
            Step::Login
        }
    };
    let Some(session) = &input.session else {
        return login_or(Denial::LoginRequired);
    };
    if !session.authenticated_here {
        // OIDC Core §3.1.2.1: prompt=login and max_age force a fresh authentication.
        let too_old = input
            .max_age
            .is_some_and(|max| input.now - session.auth_time > max || max == 0);
        if input.prompt.login || too_old || session.hint_mismatch {
            return login_or(Denial::LoginRequired);
        }
    }
    let ask = |step: Step| {
        if input.prompt.none {
            Step::Deny(Denial::InteractionRequired)
        } else {
            step
        }
    };
    // The second factor comes right after the password, before anything else is shown or
    // changed: people who turned MFA on are always challenged (RFC 6238 via account::mfa).
    let mfa = &input.mfa;
    if mfa.enrolled && !mfa.verified_in_session {
        return ask(Step::ChallengeMfa);
    }
    if input.password_change_required {
        return if input.prompt.none {
            Step::Deny(Denial::InteractionRequired)
        } else {
            Step::ChangePassword
        };
    }
    let policy = match &input.firm {
        FirmFacts::NotMember => {
            return Step::Deny(Denial::AccessDenied(
                "the user is not a member of a firm this application serves",
            ))
        }
        FirmFacts::Choose => {
            return if input.prompt.none {
                Step::Deny(Denial::InteractionRequired)
            } else {
                Step::SelectFirm
            }
        }
        FirmFacts::Resolved(verdict) => verdict,
    };
    // The firm's rules, on every authorization, live sessions included.
    if !policy.network_allowed {
        return Step::Deny(Denial::NetworkRefused);
    }
    if !policy.within_hours {
        return Step::Deny(Denial::OutsideHours);
    }
    if !session.authenticated_here
        && (policy.idle_expired(session.last_seen_at, input.now)
            || policy.too_old(session.auth_time, input.now))
    {
        return login_or(Denial::LoginRequired);
    }
    // A sign-in through an upstream account this firm does not accept (another tenant or
    // Workspace domain) gets nothing for this firm.
    if session.federated && !policy.upstream_accepted {
        return Step::Deny(Denial::AccessDenied(
            "the user's firm does not accept single sign-on with this account",
        ));
    }
    if !policy.sso_required.is_empty() && !policy.sso_satisfied {
        return if input.prompt.none {
            Step::Deny(Denial::LoginRequired)
        } else {
            Step::SsoRequired(policy.sso_required)
        };
    }
    // A second factor the person does not have yet: required by the firm or insisted on by the
    // relying party (step-up), set up now; offered by the firm, set up or skipped.
    if !mfa.enrolled && !mfa.verified_in_session {
        if mfa.requested || policy.mfa == MfaDemand::Require {
            return ask(Step::EnrolMfa);
        }
        if policy.mfa == MfaDemand::Offer && !input.prompt.none {
            match mfa.offer_answer {
                None => return Step::OfferMfa,
                Some(true) => return Step::EnrolMfa,
                Some(false) => {}
            }
        }
    }
    let consent = &input.consent;
    match consent.decision_here {
        Some(false) => return Step::Deny(Denial::AccessDenied("the user declined")),
        Some(true) => return Step::Issue,
        None => {}
    }
    if consent.first_party {
        return Step::Issue;
    }
    let must_ask = input.prompt.consent || consent.offline_requested || !consent.remembered;
    if !must_ask {
        return Step::Issue;
    }
    if input.prompt.none {
        Step::Deny(Denial::ConsentRequired)
    } else {
        Step::Consent
    }
}

#[cfg(test)]
mod tests;
