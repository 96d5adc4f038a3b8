//! The one place that orders the sign-in steps. `next_step` looks at the request, the browser
//! session, the firm and the consent state and says what is missing. Page handlers do their one
//! job and come back here; none decides the order itself. Pure: no I/O, no axum, no sqlx.

use crate::clock::UnixTime;
use crate::policy::FirmPolicy;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Login,
    /// The person has MFA on (or the request asks for it) and this session has not proved it.
    ChallengeMfa,
    /// A second factor is needed (a relying party asks for the MFA acr; later, a firm policy)
    /// and the person has none yet: set it up before anything is issued.
    EnrolMfa,
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
}

impl Denial {
    pub fn error_code(&self) -> &'static str {
        match self {
            Denial::LoginRequired => "login_required",
            Denial::ConsentRequired => "consent_required",
            Denial::InteractionRequired => "interaction_required",
            Denial::AccessDenied(_) => "access_denied",
        }
    }

    pub fn description(&self) -> &'static str {
        match self {
            Denial::LoginRequired => "the user must sign in",
            Denial::ConsentRequired => "the user must consent",
            Denial::InteractionRequired => "the user must interact with firmgate",
            Denial::AccessDenied(why) => why,
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
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FirmFacts {
    /// The firm this sign-in is for, and its policy.
    Resolved(FirmPolicy),
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
        FirmFacts::Resolved(policy) => policy,
    };
    if !session.authenticated_here && policy.idle_expired(session.last_seen_at, input.now) {
        return login_or(Denial::LoginRequired);
    }
    // Step-up: the relying party asks for the MFA acr from someone who has no factor yet.
    if mfa.requested && !mfa.verified_in_session {
        return ask(Step::EnrolMfa);
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
