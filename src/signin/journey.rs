//! Gathers the facts `next_step` needs (session, firm, consent) and carries out its answer:
//! send the browser to the page for the missing step, issue the code, or return the error.

use axum::response::{IntoResponse, Response};

use super::flow::{next_step, ConsentFacts, FirmFacts, FlowInput, MfaFacts, SessionFacts, Step};
use super::interaction::{self, Interaction};
use crate::app::AppState;
use crate::error::PageError;
use crate::oidc::claims::{amr_has_local_mfa, amr_has_mfa};
use crate::oidc::request::AuthorizationRequest;
use crate::oidc::{issue, response};
use crate::policy::sso::{UpstreamKind, UpstreamUse};
use crate::store::clients::ClientRecord;
use crate::store::people::Membership;
use crate::store::sessions::SessionRecord;
use crate::store::sign_in_facts::SignInFacts;
use crate::web::browser::Browser;
use crate::web::render;

/// What the journey knows at this moment, and the step that follows from it.
#[derive(Debug)]
pub struct Assessment {
    pub step: Step,
    pub client: ClientRecord,
    pub memberships: Vec<Membership>,
    /// The firm this sign-in is for, once known.
    pub firm: Option<Membership>,
    /// The session proved a second factor this firm accepts: the `acr` to assert.
    pub mfa_proved: bool,
    /// What was read about the session's person for this assessment (`None` without a
    /// session), for the page to show and for `continue_journey` in the same request.
    pub facts: Option<SignInFacts>,
}

/// `known`: facts this request has already read about the session's person for this client
/// and not changed since (a handler that wrote only to the interaction, or updated the facts
/// itself). They are used only when they are about that same person and client; otherwise,
/// and when `None`, they are read.
pub async fn assess(
    state: &AppState,
    ip: Option<std::net::IpAddr>,
    request: &AuthorizationRequest,
    interaction: Option<&Interaction>,
    session: Option<&SessionRecord>,
    known: Option<SignInFacts>,
) -> Result<Assessment, PageError> {
    let client = state
        .store
        .client(&request.client_id)
        .await?
        .ok_or_else(PageError::expired)?;
    let now = state.clock.now();
    let record = interaction.map(|i| &i.record);
    let mut memberships = Vec::new();
    let mut password_change_required = false;
    let mut firm = None;
    let mut firm_facts = FirmFacts::NotMember;
    let mut mfa = MfaFacts {
        requested: request.wants_mfa(),
        offer_answer: record
            .and_then(|r| r.mfa_offer.as_deref())
            .map(|a| a == "setup"),
        ..MfaFacts::default()
    };
    let mut consent = ConsentFacts {
        first_party: client.first_party,
        offline_requested: request.wants_offline(),
        decision_here: record
            .and_then(|r| r.consent.as_deref())
            .map(|d| d == "allow"),
        remembered: false,
    };
    let session_facts = session.map(|s| SessionFacts {
        auth_time: s.auth_time,
        last_seen_at: s.last_seen_at,
        authenticated_here: record
            .and_then(|r| r.authenticated_session_id.as_deref())
            .is_some_and(|id| id == s.id),
        hint_mismatch: request
            .hinted_sub
            .as_deref()
            .is_some_and(|sub| sub != s.person_id),
        federated: s.amr.split_whitespace().any(|m| m == "fed"),
    });
    let mut mfa_proved = false;
    let mut used_facts = None;
    if let Some(s) = session {
        let via = s.upstream.as_deref().map(|provider| UpstreamUse {
            kind: UpstreamKind::of(provider),
            provider,
            realm: s.upstream_realm.as_deref(),
        });
        // One pair of reads for the person, their factor, consent, memberships and firms.
        let facts = match known {
            Some(f) if f.is_about(&s.person_id, &client.id) => f,
            _ => state.store.sign_in_facts(&s.person_id, &client.id).await?,
        };
        password_change_required = match &facts.person {
            Some(p) => {
                let policy = facts.password_policy();
                // An expired password matters to sessions that used it; a single sign-on
                // session (or a person with no password at all) is not asked to change it.
                p.password_temporary != 0
                    || (s.upstream.is_none()
                        && p.password_hash.is_some()
                        && policy.expired(p.password_changed_at.unwrap_or(p.created_at), now))
            }
            None => false,
        };
        mfa.enrolled = facts.mfa_enrolled;
        memberships = facts.memberships();
        // The firm: the client's own, the one picked on the chooser, the `firm` the request
        // preselects (when the person is a member), or the only one.
        let preselected = request
            .firm
            .as_deref()
            .and_then(|f| memberships.iter().find(|m| m.firm_id == f));
        let chosen = match (&client.firm_id, record.and_then(|r| r.firm_id.as_deref())) {
            (Some(client_firm), _) => memberships.iter().find(|m| &m.firm_id == client_firm),
            (None, Some(picked)) => memberships.iter().find(|m| m.firm_id == picked),
            (None, None) if preselected.is_some() => preselected,
            (None, None) if memberships.len() == 1 => memberships.first(),
            (None, None) => None,
        };
        firm_facts = match chosen {
            Some(m) => {
                let member = facts
                    .members
                    .iter()
                    .find(|f| f.membership.firm_id == m.firm_id);
                let policy = member
                    .map(|f| f.firm.policy())
                    .transpose()?
                    .unwrap_or_default();
                let standing = member.map(|f| f.standing).unwrap_or_default();
                FirmFacts::Resolved(policy.verdict_for(standing, ip, now, via.as_ref()))
            }
            None if client.firm_id.is_none() && memberships.len() > 1 => FirmFacts::Choose,
            None => FirmFacts::NotMember,
        };
        firm = chosen.cloned();
        // firmgate's own second factor always counts; an upstream's MFA only where this firm
        // trusts that upstream (SECURITY.md 98).
        mfa.verified_in_session = amr_has_local_mfa(&s.amr)
            || (amr_has_mfa(&s.amr)
                && match &firm_facts {
                    FirmFacts::Resolved(v) => s.upstream.is_none() || v.upstream_mfa_trusted,
                    _ => false,
                });
        mfa_proved = mfa.verified_in_session;
        consent.remembered = request
            .scopes
            .iter()
            .all(|sc| facts.consented_scopes.contains(sc));
        used_facts = Some(facts);
    }
    let step = next_step(&FlowInput {
        now,
        prompt: request.prompt(),
        max_age: request.max_age,
        session: session_facts,
        firm: firm_facts,
        consent,
        password_change_required,
        mfa,
    });
    Ok(Assessment {
        step,
        client,
        memberships,
        firm,
        mfa_proved,
        facts: used_facts,
    })
}

/// Carries out `assessment.step`.
pub async fn act(
    state: &AppState,
    browser: &Browser,
    request: &AuthorizationRequest,
    interaction: Option<Interaction>,
    session: Option<&SessionRecord>,
    assessment: Assessment,
) -> Result<Response, PageError> {
    let issuer = state.issuer();
    let now = state.clock.now();
    let page = match assessment.step {
        Step::Login => "login",
        Step::ChallengeMfa => "mfa",
        Step::EnrolMfa => "mfa-setup",
        Step::OfferMfa => "mfa-offer",
        Step::SsoRequired(_) => "sso-required",
        Step::ChangePassword => "password",
        Step::SelectFirm => "firm",
        Step::Consent => "consent",
        Step::Issue => {
            let (Some(session), Some(firm)) = (session, assessment.firm.as_ref()) else {
                return Err(PageError::internal());
            };
            if let Some(i) = &interaction {
                if !state.store.complete_interaction(i.id(), now).await? {
                    return Err(PageError::expired());
                }
            }
            let offline = request.wants_offline()
                && (assessment.client.first_party
                    || interaction
                        .as_ref()
                        .and_then(|i| i.record.consent.as_deref())
                        == Some("allow"));
            let code = issue::issue_code(
                state,
                request,
                session,
                &firm.firm_id,
                offline,
                assessment.mfa_proved,
            )
            .await?;
            state.store.touch_session(session, now).await?;
            return Ok(response::code(
                &request.redirect_uri,
                request.response_mode,
                request.state.as_deref(),
                &issuer,
                &code,
            ));
        }
        Step::Deny(denial) => {
            if let Some(i) = &interaction {
                state.store.complete_interaction(i.id(), now).await?;
            }
            if let (Some(rule), Some(s), Some(f)) =
                (denial.policy_rule(), session, assessment.firm.as_ref())
            {
                crate::audit::record(
                    &state.store,
                    crate::audit::AuditEvent::PolicyRefused {
                        person_id: &s.person_id,
                        firm_id: &f.firm_id,
                        client_id: &request.client_id,
                        rule,
                    },
                    &crate::audit::Actor {
                        ip: browser.ip.map(|ip| ip.to_string()),
                        user_agent: None,
                    },
                    now,
                )
                .await?;
            }
            return Ok(response::error(
                &request.redirect_uri,
                request.response_mode,
                request.state.as_deref(),
                &issuer,
                denial.error_code(),
                denial.description(),
            ));
        }
    };
    let interaction = match interaction {
        Some(i) => i,
        None => interaction::start(state, browser, request).await?,
    };
    Ok(render::see_other(&format!(
        "/signin/{page}?interaction={}",
        interaction.id()
    )))
}

/// A step page's view of the journey, when the journey really is at that step.
pub struct AtStep {
    pub interaction: Interaction,
    /// Always present for every step after `Login`.
    pub session: Option<SessionRecord>,
    pub assessment: Assessment,
}

pub enum Visit {
    Here(Box<AtStep>),
    /// The journey is elsewhere: this response sends the browser there (no skipping ahead).
    Elsewhere(Response),
}

/// Loads the interaction (bound to this browser) and the session, asks `next_step`, and lets
/// the page for `page` proceed only if that is where the journey is.
pub async fn visit(
    state: &AppState,
    browser: &Browser,
    headers: &axum::http::HeaderMap,
    interaction_id: Option<&str>,
    page: Step,
) -> Result<Visit, PageError> {
    // The interaction, then the session with the facts about its person: two reads on one
    // connection.
    let (i, session, facts) = {
        let mut reader = state.store.reader().await?;
        let i = interaction::load_with(&mut reader, state, browser, interaction_id).await?;
        let found =
            super::session::current_with_facts(&mut reader, state, headers, &i.request.client_id)
                .await?;
        let (session, facts) = found.unzip();
        (i, session, facts)
    };
    let assessment = assess(
        state,
        browser.ip,
        &i.request,
        Some(&i),
        session.as_ref(),
        facts,
    )
    .await?;
    // Same step (a step's data, like SsoRequired's providers, comes from the assessment).
    let here = std::mem::discriminant(&assessment.step) == std::mem::discriminant(&page);
    if here && (page == Step::Login || session.is_some()) {
        return Ok(Visit::Here(Box::new(AtStep {
            interaction: i,
            session,
            assessment,
        })));
    }
    let request = i.request.clone();
    let res = act(
        state,
        browser,
        &request,
        Some(i),
        session.as_ref(),
        assessment,
    )
    .await?;
    Ok(Visit::Elsewhere(res))
}

/// Assess and act in one go, for handlers that have just recorded their result. `known` as for
/// `assess`: the facts the handler read in this request, when its write did not change them
/// (saving the journey's read of them once more).
pub async fn continue_journey(
    state: &AppState,
    browser: &Browser,
    interaction: Interaction,
    session: Option<&SessionRecord>,
    known: Option<SignInFacts>,
) -> Response {
    let request = interaction.request.clone();
    let result = async {
        let assessment = assess(
            state,
            browser.ip,
            &request,
            Some(&interaction),
            session,
            known,
        )
        .await?;
        act(
            state,
            browser,
            &request,
            Some(interaction),
            session,
            assessment,
        )
        .await
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

impl From<crate::oidc::issue::IssueError> for PageError {
    fn from(e: crate::oidc::issue::IssueError) -> Self {
        match e {
            crate::oidc::issue::IssueError::Store(s) => PageError::from(s),
        }
    }
}
