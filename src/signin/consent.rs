//! The consent page: what the application asks for, in plain words; `decision=allow|deny`.
//! Consent is recorded only when consent really is the next step (no skipping ahead).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::interaction;
use super::journey::{act, assess, continue_journey};
use super::login::InteractionQuery;
use super::session;
use crate::app::AppState;
use crate::audit::{self, AuditEvent};
use crate::error::PageError;
use crate::signin::flow::Step;
use crate::web::browser::Browser;
use crate::web::client_ip::RequestActor;
use crate::web::params::Params;
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
        _ => None,
    }
}

pub async fn show(
    State(state): State<AppState>,
    browser: Browser,
    headers: HeaderMap,
    Query(q): Query<InteractionQuery>,
) -> Result<Response, PageError> {
    let i = interaction::load(&state, &browser, q.interaction.as_deref()).await?;
    let session = session::current(&state, &headers).await?;
    let assessment = assess(&state, &i.request, Some(&i), session.as_ref()).await?;
    let (Step::Consent, Some(s)) = (&assessment.step, session.as_ref()) else {
        let request = i.request.clone();
        return act(
            &state,
            &browser,
            &request,
            Some(i),
            session.as_ref(),
            assessment,
        )
        .await;
    };
    let person = state
        .store
        .person(&s.person_id)
        .await?
        .ok_or_else(PageError::expired)?;
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
    let form = Params::parse(&body)
        .map_err(|_| PageError::bad_request("Invalid form", "The form had too many fields."))?;
    if !browser.csrf_ok(form.get("csrf")) {
        return Err(PageError::csrf());
    }
    let mut i = interaction::load(&state, &browser, form.get("interaction")).await?;
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
    let session = session::current(&state, &headers).await?;
    let assessment = assess(&state, &i.request, Some(&i), session.as_ref()).await?;
    let (Step::Consent, Some(s)) = (&assessment.step, session.as_ref()) else {
        let request = i.request.clone();
        return act(
            &state,
            &browser,
            &request,
            Some(i),
            session.as_ref(),
            assessment,
        )
        .await;
    };
    let now = state.clock.now();
    if decision == "allow" {
        state
            .store
            .remember_consent(&s.person_id, &i.request.client_id, &i.request.scopes, now)
            .await?;
    }
    state
        .store
        .set_interaction_consent(i.id(), decision)
        .await?;
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
    Ok(continue_journey(&state, &browser, i, session.as_ref()).await)
}
