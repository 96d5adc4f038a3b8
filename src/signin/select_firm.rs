//! Choosing the firm a sign-in is for, when a person belongs to several and the application
//! serves them all.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::interaction;
use super::journey::{act, assess, continue_journey};
use super::login::InteractionQuery;
use super::session;
use crate::app::AppState;
use crate::error::PageError;
use crate::signin::flow::Step;
use crate::web::browser::Browser;
use crate::web::params::Params;
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
    let i = interaction::load(&state, &browser, q.interaction.as_deref()).await?;
    let session = session::current(&state, &headers).await?;
    let assessment = assess(&state, &i.request, Some(&i), session.as_ref()).await?;
    if assessment.step != Step::SelectFirm {
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
    }
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
    let form = Params::parse(&body)
        .map_err(|_| PageError::bad_request("Invalid form", "The form had too many fields."))?;
    if !browser.csrf_ok(form.get("csrf")) {
        return Err(PageError::csrf());
    }
    let mut i = interaction::load(&state, &browser, form.get("interaction")).await?;
    let session = session::current(&state, &headers).await?;
    let assessment = assess(&state, &i.request, Some(&i), session.as_ref()).await?;
    if assessment.step != Step::SelectFirm {
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
    }
    let picked = form.get("firm").unwrap_or("");
    if !assessment.memberships.iter().any(|m| m.firm_id == picked) {
        return Err(PageError::bad_request(
            "Choose a firm",
            "Choose one of the firms listed.",
        ));
    }
    state.store.set_interaction_firm(i.id(), picked).await?;
    i.record.firm_id = Some(picked.to_owned());
    Ok(continue_journey(&state, &browser, i, session.as_ref()).await)
}
