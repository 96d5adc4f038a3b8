//! The sign-in order as a table: one row per combination that matters.

use super::*;
use crate::policy::{FirmVerdict, MfaDemand};

const NOW: UnixTime = 1_000_000;

fn live(auth_age: i64) -> Option<SessionFacts> {
    Some(SessionFacts {
        auth_time: NOW - auth_age,
        last_seen_at: NOW - 60,
        authenticated_here: false,
        hint_mismatch: false,
        federated: false,
    })
}

fn fresh() -> Option<SessionFacts> {
    Some(SessionFacts {
        auth_time: NOW,
        last_seen_at: NOW,
        authenticated_here: true,
        hint_mismatch: false,
        federated: false,
    })
}

fn base() -> FlowInput {
    FlowInput {
        now: NOW,
        prompt: Prompt::default(),
        max_age: None,
        session: None,
        firm: FirmFacts::Resolved(no_rules()),
        consent: ConsentFacts::default(),
        password_change_required: false,
        mfa: MfaFacts::default(),
    }
}

/// A firm whose rules ask nothing of this sign-in (MFA off, no SSO, anywhere, any time).
fn no_rules() -> FirmVerdict {
    FirmVerdict {
        mfa: MfaDemand::Nothing,
        ..FirmVerdict::default()
    }
}

/// MFA on, not yet proved in this session.
fn mfa_pending() -> MfaFacts {
    MfaFacts {
        enrolled: true,
        verified_in_session: false,
        requested: false,
        offer_answer: None,
    }
}

fn mfa_done() -> MfaFacts {
    MfaFacts {
        enrolled: true,
        verified_in_session: true,
        requested: false,
        offer_answer: None,
    }
}

const NONE: Prompt = Prompt {
    none: true,
    login: false,
    consent: false,
};
const LOGIN: Prompt = Prompt {
    none: false,
    login: true,
    consent: false,
};
const CONSENT: Prompt = Prompt {
    none: false,
    login: false,
    consent: true,
};

fn remembered() -> ConsentFacts {
    ConsentFacts {
        remembered: true,
        ..Default::default()
    }
}

#[test]
fn next_step_table() {
    let idle = Some(SessionFacts {
        auth_time: NOW - 9 * 3600,
        last_seen_at: NOW - 8 * 3600 - 1,
        authenticated_here: false,
        hint_mismatch: false,
        federated: false,
    });
    let idle_edge = Some(SessionFacts {
        last_seen_at: NOW - 8 * 3600,
        ..idle.clone().unwrap()
    });
    let mismatch = Some(SessionFacts {
        hint_mismatch: true,
        ..live(10).unwrap()
    });
    #[rustfmt::skip]
    let rows: Vec<(&str, FlowInput, Step)> = vec![
        ("no session -> login", base(), Step::Login),
        ("no session, prompt=none -> login_required",
            FlowInput { prompt: NONE, ..base() }, Step::Deny(Denial::LoginRequired)),
        ("live session, no consent -> consent",
            FlowInput { session: live(10), ..base() }, Step::Consent),
        ("live session, remembered consent -> issue",
            FlowInput { session: live(10), consent: remembered(), ..base() }, Step::Issue),
        ("prompt=none, no consent -> consent_required",
            FlowInput { prompt: NONE, session: live(10), ..base() }, Step::Deny(Denial::ConsentRequired)),
        ("prompt=none with consent -> issue silently",
            FlowInput { prompt: NONE, session: live(10), consent: remembered(), ..base() }, Step::Issue),
        ("prompt=login on a live session -> login",
            FlowInput { prompt: LOGIN, session: live(10), consent: remembered(), ..base() }, Step::Login),
        ("prompt=login after signing in here -> issue",
            FlowInput { prompt: LOGIN, session: fresh(), consent: remembered(), ..base() }, Step::Issue),
        ("max_age exceeded -> login",
            FlowInput { max_age: Some(1), session: live(2), consent: remembered(), ..base() }, Step::Login),
        ("max_age exceeded, prompt=none -> login_required",
            FlowInput { prompt: NONE, max_age: Some(1), session: live(2), consent: remembered(), ..base() }, Step::Deny(Denial::LoginRequired)),
        ("max_age not exceeded -> issue",
            FlowInput { max_age: Some(10_000), session: live(100), consent: remembered(), ..base() }, Step::Issue),
        ("max_age=0 behaves like prompt=login",
            FlowInput { max_age: Some(0), session: live(0), consent: remembered(), ..base() }, Step::Login),
        ("max_age=0 satisfied by a sign-in here",
            FlowInput { max_age: Some(0), session: fresh(), consent: remembered(), ..base() }, Step::Issue),
        ("idle past the firm timeout -> login",
            FlowInput { session: idle.clone(), consent: remembered(), ..base() }, Step::Login),
        ("idle past the timeout, prompt=none -> login_required",
            FlowInput { prompt: NONE, session: idle, consent: remembered(), ..base() }, Step::Deny(Denial::LoginRequired)),
        ("idle exactly at the timeout -> still live",
            FlowInput { session: idle_edge, consent: remembered(), ..base() }, Step::Issue),
        ("30-minute firm timeout applies at once",
            FlowInput { session: live(3600).map(|s| SessionFacts { last_seen_at: NOW - 1801, ..s }),
                firm: FirmFacts::Resolved(FirmVerdict { idle_timeout_secs: 1800, ..no_rules() }), consent: remembered(), ..base() }, Step::Login),
        ("id_token_hint for someone else -> login",
            FlowInput { session: mismatch.clone(), consent: remembered(), ..base() }, Step::Login),
        ("id_token_hint for someone else, prompt=none -> login_required",
            FlowInput { prompt: NONE, session: mismatch, consent: remembered(), ..base() }, Step::Deny(Denial::LoginRequired)),
        ("not a member -> access_denied",
            FlowInput { session: live(10), firm: FirmFacts::NotMember, ..base() }, Step::Deny(Denial::AccessDenied("the user is not a member of a firm this application serves"))),
        ("several firms -> select firm",
            FlowInput { session: live(10), firm: FirmFacts::Choose, ..base() }, Step::SelectFirm),
        ("several firms, prompt=none -> interaction_required",
            FlowInput { prompt: NONE, session: live(10), firm: FirmFacts::Choose, ..base() }, Step::Deny(Denial::InteractionRequired)),
        ("prompt=consent with remembered consent -> consent",
            FlowInput { prompt: CONSENT, session: live(10), consent: remembered(), ..base() }, Step::Consent),
        ("offline_access asks again even when remembered (OIDC Core §11)",
            FlowInput { session: live(10), consent: ConsentFacts { offline_requested: true, ..remembered() }, ..base() }, Step::Consent),
        ("offline_access with prompt=none -> consent_required",
            FlowInput { prompt: NONE, session: live(10), consent: ConsentFacts { offline_requested: true, ..remembered() }, ..base() }, Step::Deny(Denial::ConsentRequired)),
        ("first-party client skips consent",
            FlowInput { session: live(10), consent: ConsentFacts { first_party: true, offline_requested: true, ..Default::default() }, ..base() }, Step::Issue),
        ("consent allowed here -> issue",
            FlowInput { session: fresh(), consent: ConsentFacts { decision_here: Some(true), offline_requested: true, ..Default::default() }, ..base() }, Step::Issue),
        ("consent denied here -> access_denied",
            FlowInput { session: fresh(), consent: ConsentFacts { decision_here: Some(false), ..remembered() }, ..base() }, Step::Deny(Denial::AccessDenied("the user declined"))),
        ("temporary password -> change it before anything else",
            FlowInput { session: fresh(), password_change_required: true, consent: ConsentFacts { first_party: true, ..Default::default() }, ..base() }, Step::ChangePassword),
        ("temporary password on a live session too (the forced change cannot be skipped)",
            FlowInput { session: live(10), password_change_required: true, firm: FirmFacts::Choose, consent: remembered(), ..base() }, Step::ChangePassword),
        ("temporary password with prompt=none -> interaction_required",
            FlowInput { prompt: NONE, session: live(10), password_change_required: true, consent: remembered(), ..base() }, Step::Deny(Denial::InteractionRequired)),
        // SECURITY case 85: every path leads back to the challenge until it is passed.
        ("MFA on, password just given -> challenge before anything else",
            FlowInput { session: fresh(), mfa: mfa_pending(), password_change_required: true, firm: FirmFacts::Choose, consent: ConsentFacts { decision_here: Some(true), ..Default::default() }, ..base() }, Step::ChallengeMfa),
        ("MFA on, consent already answered in this interaction -> still the challenge",
            FlowInput { session: fresh(), mfa: mfa_pending(), consent: ConsentFacts { decision_here: Some(true), first_party: true, ..Default::default() }, ..base() }, Step::ChallengeMfa),
        ("MFA on, live password-only session -> challenge",
            FlowInput { session: live(10), mfa: mfa_pending(), consent: remembered(), ..base() }, Step::ChallengeMfa),
        ("MFA pending with prompt=none -> interaction_required, never a page",
            FlowInput { prompt: NONE, session: live(10), mfa: mfa_pending(), consent: remembered(), ..base() }, Step::Deny(Denial::InteractionRequired)),
        ("MFA proved in this session -> issue",
            FlowInput { session: live(10), mfa: mfa_done(), consent: remembered(), ..base() }, Step::Issue),
        ("no session with MFA on -> login first",
            FlowInput { mfa: mfa_pending(), ..base() }, Step::Login),
        ("MFA acr requested on a password-only session -> step-up challenge",
            FlowInput { session: live(10), mfa: MfaFacts { requested: true, ..mfa_pending() }, consent: remembered(), ..base() }, Step::ChallengeMfa),
        ("MFA acr requested, MFA proved -> issue",
            FlowInput { session: live(10), mfa: MfaFacts { requested: true, ..mfa_done() }, consent: remembered(), ..base() }, Step::Issue),
        ("MFA acr requested from someone without MFA -> set it up",
            FlowInput { session: live(10), mfa: MfaFacts { requested: true, ..Default::default() }, consent: remembered(), ..base() }, Step::EnrolMfa),
        ("MFA acr requested without MFA and prompt=none -> interaction_required",
            FlowInput { prompt: NONE, session: live(10), mfa: MfaFacts { requested: true, ..Default::default() }, consent: remembered(), ..base() }, Step::Deny(Denial::InteractionRequired)),
        ("set-up comes after the firm is known",
            FlowInput { session: fresh(), mfa: MfaFacts { requested: true, ..Default::default() }, firm: FirmFacts::Choose, ..base() }, Step::SelectFirm),
        // Firm policy (issue 5), on every authorization, live sessions included.
        ("address outside the firm's allowlist -> access_denied",
            FlowInput { session: live(10), firm: FirmFacts::Resolved(FirmVerdict { network_allowed: false, ..no_rules() }), consent: remembered(), ..base() }, Step::Deny(Denial::NetworkRefused)),
        ("outside the allowlist even right after signing in",
            FlowInput { session: fresh(), firm: FirmFacts::Resolved(FirmVerdict { network_allowed: false, ..no_rules() }), consent: remembered(), ..base() }, Step::Deny(Denial::NetworkRefused)),
        ("outside sign-in hours -> access_denied, with prompt=none too",
            FlowInput { prompt: NONE, session: live(10), firm: FirmFacts::Resolved(FirmVerdict { within_hours: false, ..no_rules() }), consent: remembered(), ..base() }, Step::Deny(Denial::OutsideHours)),
        ("session older than the firm's maximum age -> sign in again",
            FlowInput { session: live(3601), firm: FirmFacts::Resolved(FirmVerdict { max_session_age_secs: Some(3600), ..no_rules() }), consent: remembered(), ..base() }, Step::Login),
        ("session older than the firm's maximum age with prompt=none -> login_required",
            FlowInput { prompt: NONE, session: live(3601), firm: FirmFacts::Resolved(FirmVerdict { max_session_age_secs: Some(3600), ..no_rules() }), consent: remembered(), ..base() }, Step::Deny(Denial::LoginRequired)),
        ("session within the maximum age -> issue",
            FlowInput { session: live(3599), firm: FirmFacts::Resolved(FirmVerdict { max_session_age_secs: Some(3600), ..no_rules() }), consent: remembered(), ..base() }, Step::Issue),
        ("SSO required, password session -> the SSO page",
            FlowInput { session: fresh(), firm: FirmFacts::Resolved(FirmVerdict { sso_required: &["microsoft"], ..no_rules() }), consent: remembered(), ..base() }, Step::SsoRequired(&["microsoft"])),
        ("SSO required, password session, prompt=none -> login_required",
            FlowInput { prompt: NONE, session: live(10), firm: FirmFacts::Resolved(FirmVerdict { sso_required: &["google"], ..no_rules() }), consent: remembered(), ..base() }, Step::Deny(Denial::LoginRequired)),
        ("SSO required, federated session the firm accepts -> issue",
            FlowInput { session: Some(SessionFacts { federated: true, ..live(10).unwrap() }), firm: FirmFacts::Resolved(FirmVerdict { sso_required: &["google"], sso_satisfied: true, ..no_rules() }), consent: remembered(), ..base() }, Step::Issue),
        ("SSO required, federated through another upstream -> the SSO page",
            FlowInput { session: Some(SessionFacts { federated: true, ..live(10).unwrap() }), firm: FirmFacts::Resolved(FirmVerdict { sso_required: &["google"], sso_satisfied: false, ..no_rules() }), consent: remembered(), ..base() }, Step::SsoRequired(&["google"])),
        ("federated through an account the firm does not accept -> access_denied (SECURITY 93, 94)",
            FlowInput { session: Some(SessionFacts { federated: true, ..fresh().unwrap() }), firm: FirmFacts::Resolved(FirmVerdict { upstream_accepted: false, ..no_rules() }), consent: remembered(), ..base() }, Step::Deny(Denial::AccessDenied("the user's firm does not accept single sign-on with this account"))),
        ("MFA required, none set up -> set-up, before consent",
            FlowInput { session: fresh(), firm: FirmFacts::Resolved(FirmVerdict { mfa: MfaDemand::Require, ..no_rules() }), consent: ConsentFacts { decision_here: Some(true), ..Default::default() }, ..base() }, Step::EnrolMfa),
        ("MFA required on a live session -> set-up at the next authorization",
            FlowInput { session: live(10), firm: FirmFacts::Resolved(FirmVerdict { mfa: MfaDemand::Require, ..no_rules() }), consent: remembered(), ..base() }, Step::EnrolMfa),
        ("MFA required, prompt=none -> interaction_required",
            FlowInput { prompt: NONE, session: live(10), firm: FirmFacts::Resolved(FirmVerdict { mfa: MfaDemand::Require, ..no_rules() }), consent: remembered(), ..base() }, Step::Deny(Denial::InteractionRequired)),
        ("MFA required cannot be skipped by answering the offer",
            FlowInput { session: fresh(), mfa: MfaFacts { offer_answer: Some(false), ..Default::default() }, firm: FirmFacts::Resolved(FirmVerdict { mfa: MfaDemand::Require, ..no_rules() }), consent: remembered(), ..base() }, Step::EnrolMfa),
        ("MFA required and set up -> the challenge, then issue",
            FlowInput { session: fresh(), mfa: mfa_pending(), firm: FirmFacts::Resolved(FirmVerdict { mfa: MfaDemand::Require, ..no_rules() }), consent: remembered(), ..base() }, Step::ChallengeMfa),
        ("MFA offered -> the offer",
            FlowInput { session: fresh(), firm: FirmFacts::Resolved(FirmVerdict { mfa: MfaDemand::Offer, ..no_rules() }), consent: remembered(), ..base() }, Step::OfferMfa),
        ("MFA offered, skipped here -> on to consent",
            FlowInput { session: fresh(), mfa: MfaFacts { offer_answer: Some(false), ..Default::default() }, firm: FirmFacts::Resolved(FirmVerdict { mfa: MfaDemand::Offer, ..no_rules() }), ..base() }, Step::Consent),
        ("MFA offered, accepted here -> set-up",
            FlowInput { session: fresh(), mfa: MfaFacts { offer_answer: Some(true), ..Default::default() }, firm: FirmFacts::Resolved(FirmVerdict { mfa: MfaDemand::Offer, ..no_rules() }), consent: remembered(), ..base() }, Step::EnrolMfa),
        ("MFA offered with prompt=none -> no page, issue",
            FlowInput { prompt: NONE, session: live(10), firm: FirmFacts::Resolved(FirmVerdict { mfa: MfaDemand::Offer, ..no_rules() }), consent: remembered(), ..base() }, Step::Issue),
        ("MFA offered to someone who has it -> no offer",
            FlowInput { session: fresh(), mfa: mfa_done(), firm: FirmFacts::Resolved(FirmVerdict { mfa: MfaDemand::Offer, ..no_rules() }), consent: remembered(), ..base() }, Step::Issue),
        ("the network rule outranks MFA set-up and SSO",
            FlowInput { session: fresh(), firm: FirmFacts::Resolved(FirmVerdict { network_allowed: false, mfa: MfaDemand::Require, sso_required: &["microsoft"], ..no_rules() }), ..base() }, Step::Deny(Denial::NetworkRefused)),
        ("a temporary password comes before firm rules",
            FlowInput { session: fresh(), password_change_required: true, firm: FirmFacts::Resolved(FirmVerdict { mfa: MfaDemand::Require, ..no_rules() }), ..base() }, Step::ChangePassword),
        ("no session outranks a consent answer",
            FlowInput { consent: ConsentFacts { decision_here: Some(true), ..Default::default() }, ..base() }, Step::Login),
    ];
    for (name, input, expected) in rows {
        assert_eq!(next_step(&input), expected, "{name}");
    }
}

#[test]
fn denials_map_to_oidc_error_codes() {
    assert_eq!(Denial::LoginRequired.error_code(), "login_required");
    assert_eq!(Denial::ConsentRequired.error_code(), "consent_required");
    assert_eq!(
        Denial::InteractionRequired.error_code(),
        "interaction_required"
    );
    assert_eq!(Denial::AccessDenied("x").error_code(), "access_denied");
}

/// Every combination of MFA mode, SSO rule, federation, network, hours, session age, temporary
/// password, prompt, max_age and factor state: the invariants that must hold in all of them.
#[test]
fn policy_invariants_hold_in_every_combination() {
    let demands = [MfaDemand::Nothing, MfaDemand::Offer, MfaDemand::Require];
    let ssos: [&'static [&'static str]; 2] = [&[], &["microsoft"]];
    let upstream_states = [(true, false), (true, true), (false, false)];
    let sessions = [fresh(), live(10), live(7200)];
    let prompts = [Prompt::default(), NONE, LOGIN];
    let factors = [(false, false), (true, false), (true, true)];
    let mut checked = 0;
    for demand in demands {
        for sso in ssos {
            for (federated, (accepted, satisfied)) in [false, true]
                .into_iter()
                .flat_map(|f| upstream_states.map(|u| (f, u)))
            {
                for network in [true, false] {
                    for hours in [true, false] {
                        for session in &sessions {
                            for temporary in [false, true] {
                                for prompt in prompts {
                                    for max_age in [None, Some(5)] {
                                        for (enrolled, verified) in factors {
                                            let verdict = FirmVerdict {
                                                network_allowed: network,
                                                within_hours: hours,
                                                max_session_age_secs: Some(3600),
                                                mfa: demand,
                                                sso_required: sso,
                                                upstream_accepted: accepted || !federated,
                                                sso_satisfied: satisfied && federated,
                                                ..no_rules()
                                            };
                                            let input = FlowInput {
                                                prompt,
                                                max_age,
                                                session: session
                                                    .clone()
                                                    .map(|s| SessionFacts { federated, ..s }),
                                                firm: FirmFacts::Resolved(verdict),
                                                consent: remembered(),
                                                password_change_required: temporary,
                                                mfa: MfaFacts {
                                                    enrolled,
                                                    verified_in_session: verified,
                                                    ..Default::default()
                                                },
                                                ..base()
                                            };
                                            let step = next_step(&input);
                                            let why = format!("{input:?} -> {step:?}");
                                            if step == Step::Issue {
                                                assert!(network && hours, "{why}");
                                                assert!(
                                                    sso.is_empty() || (federated && satisfied),
                                                    "{why}"
                                                );
                                                assert!(!federated || accepted, "{why}");
                                                assert!(!temporary, "{why}");
                                                assert!(!enrolled || verified, "{why}");
                                                assert!(
                                                    demand != MfaDemand::Require || verified,
                                                    "{why}"
                                                );
                                            }
                                            if prompt.none {
                                                assert!(
                                                    matches!(step, Step::Issue | Step::Deny(_)),
                                                    "prompt=none never shows a page: {why}"
                                                );
                                            }
                                            if step == Step::OfferMfa {
                                                assert!(
                                                    demand == MfaDemand::Offer && !enrolled,
                                                    "{why}"
                                                );
                                            }
                                            checked += 1;
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    assert_eq!(checked, 3 * 2 * (2 * 3) * 2 * 2 * 3 * 2 * 3 * 2 * 3);
}
