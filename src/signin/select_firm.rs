//! Choosing the firm a sign-in is for, when a person belongs to several and the application
//! serves them all.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::journey::{continue_journey, visit, AtStep, Visit};
use super::login::InteractionQuery;
use crate::app::AppState;
use crate::error::PageError;
use crate::signin::flow::Step;
use crate::web::browser::Browser;
use crate::web::render;

#[derive(Template)]
#[template(path = "select_firm.html")]
struct SelectFirmPage<'a> {
    firms: Vec<(&'a str, &'a str)>,
    csrf: &'a str,
    interaction: &'a str,
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
        Step::SelectFirm,
    )
    .await?
    {
        Visit::Here(here) => *here,
        Visit::Elsewhere(res) => return Ok(res),
    };
    let page = render::page(&SelectFirmPage {
        firms: assessment
            .memberships
            .iter()
            .map(|m| (m.firm_id.as_str(), m.firm_name.as_str()))
            .collect(),
        csrf: &browser.csrf_token(),
        interaction: i.id(),
    });
    Ok(render::with_cookies(page, [browser.set_cookie.clone()]))
}

pub async fn submit(
    State(state): State<AppState>,
    browser: Browser,
    headers: HeaderMap,
    body: String,
) -> Result<Response, PageError> {
    let form = browser.csrf_form(&body)?;
    let AtStep {
        interaction: mut i,
        session,
        assessment,
    } = match visit(
        &state,
        &browser,
        &headers,
        form.get("interaction"),
        Step::SelectFirm,
    )
    .await?
    {
        Visit::Here(here) => *here,
        Visit::Elsewhere(res) => return Ok(res),
    };
    let picked = form.get("firm").unwrap_or("");
    if !assessment.memberships.iter().any(|m| m.firm_id == picked) {
        return Err(PageError::bad_request(
            "Choose a firm",
            "Choose one of the firms listed.",
        ));
    }
    state.store.set_interaction_firm(i.id(), picked).await?;
    i.record.firm_id = Some(picked.to_owned());
    Ok(continue_journey(&state, &browser, i, session.as_ref(), assessment.facts).await)
}
