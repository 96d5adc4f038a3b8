//! The consent page: what the application asks for, in plain words; `decision=allow|deny`.
//! Consent is recorded only when consent really is the next step (no skipping ahead).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::journey::{act, assess, visit, AtStep, Visit};
use super::login::InteractionQuery;
use crate::app::AppState;
use crate::audit::{self, AuditEvent};
use crate::error::PageError;
use crate::signin::flow::Step;
use crate::store::consents::merge_scopes;
use crate::web::browser::Browser;
use crate::web::client_ip::RequestActor;
use crate::web::render;

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    client_name: &'a str,
    email: &'a str,
    firm_name: Option<&'a str>,
    scope_lines: Vec<&'static str>,
    csrf: &'a str,
    interaction: &'a str,
}

/// What each scope lets the application do, in words a person reads.
pub fn describe_scope(scope: &str) -> Option<&'static str> {
    match scope {
        "openid" => Some("Know who you are when you sign in"),
        "profile" => Some("See your name"),
        "email" => Some("See your email address"),
        "offline_access" => Some("Stay connected to your account when you are not using it"),
        "firmgate:admin" => {
            Some("Manage your firm's sign-in settings and people (if you are its admin)")
        }
        _ => None,
    }
}

pub async fn show(
    State(state): State<AppState>,
    browser: Browser,
    headers: HeaderMap,
    Query(q): Query<InteractionQuery>,
) -> Result<Response, PageError> {
    let AtStep {
        interaction: i,
        session: _,
        assessment,
    } = match visit(
        &state,
        &browser,
        &headers,
        q.interaction.as_deref(),
        Step::Consent,
    )
    .await?
    {
        Visit::Here(here) => *here,
        Visit::Elsewhere(res) => return Ok(res),
    };
    // The person as the journey just read them.
    let Some(person) = assessment.facts.as_ref().and_then(|f| f.person.as_ref()) else {
        return Err(PageError::expired());
    };
    let page = render::page(&ConsentPage {
        client_name: &assessment.client.name,
        email: &person.email,
        firm_name: assessment.firm.as_ref().map(|f| f.firm_name.as_str()),
        scope_lines: i
            .request
            .scopes
            .iter()
            .filter_map(|s| describe_scope(s))
            .collect(),
        csrf: &browser.csrf_token(),
        interaction: i.id(),
    });
    Ok(render::with_cookies(page, [browser.set_cookie.clone()]))
}

pub async fn submit(
    State(state): State<AppState>,
    browser: Browser,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    body: String,
) -> Result<Response, PageError> {
    let form = browser.csrf_form(&body)?;
    let decision = match form.get("decision") {
        Some("allow") => "allow",
        Some("deny") => "deny",
        _ => {
            return Err(PageError::bad_request(
                "Invalid answer",
                "Choose Allow or Deny.",
            ))
        }
    };
    let AtStep {
        interaction: mut i,
        session,
        assessment,
    } = match visit(
        &state,
        &browser,
        &headers,
        form.get("interaction"),
        Step::Consent,
    )
    .await?
    {
        Visit::Here(here) => *here,
        Visit::Elsewhere(res) => return Ok(res),
    };
    let Some(s) = session.as_ref() else {
        return Err(PageError::expired());
    };
    let now = state.clock.now();
    // The facts the journey just read: the consent given before, to add this one to. They
    // go on to `continue_journey` as `remember_consent` left them.
    let mut facts = assessment.facts;
    if decision == "allow" {
        let Some(f) = facts.as_mut() else {
            return Err(PageError::expired());
        };
        merge_scopes(&mut f.consented_scopes, &i.request.scopes);
        state
            .store
            .remember_consent(&s.person_id, &i.request.client_id, &f.consented_scopes, now)
            .await?;
    }
    audit::record(
        &state.store,
        AuditEvent::Consent {
            person_id: &s.person_id,
            client_id: &i.request.client_id,
            decision,
            scope: &i.request.scope_string(),
        },
        &actor,
        now,
    )
    .await?;
    i.record.consent = Some(decision.to_owned());
    let request = i.request.clone();
    let assessment = assess(&state, browser.ip, &request, Some(&i), Some(s), facts).await?;
    // The decision is kept on the interaction only for a journey that goes on past it: issuing
    // or refusing completes the interaction in this request (reading the decision from `i`).
    if !matches!(assessment.step, Step::Issue | Step::Deny(_)) {
        state
            .store
            .set_interaction_consent(i.id(), decision)
            .await?;
    }
    act(&state, &browser, &request, Some(i), Some(s), assessment).await
}
