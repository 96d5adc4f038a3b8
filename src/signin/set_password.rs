//! The forced password step (`Step::ChangePassword`): a person who signed in with an invitation's
//! temporary password sets their own password, name and time zone before anything else; a person
//! whose password has expired under their firm's policy chooses a new one.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::journey::{continue_journey, visit, AtStep, Visit};
use super::login::InteractionQuery;
use crate::account;
use crate::account::password::strength_word;
use crate::app::AppState;
use crate::error::PageError;
use crate::signin::flow::Step;
use crate::web::browser::Browser;
use crate::web::client_ip::RequestActor;
use crate::web::render;

#[derive(Template)]
#[template(path = "set_password.html")]
struct SetPasswordPage<'a> {
    /// Expired rather than temporary: only the new password is asked for.
    expired: bool,
    csrf: &'a str,
    interaction: &'a str,
    name: &'a str,
    time_zone: &'a str,
    error: Option<&'a str>,
    strength: Option<&'static str>,
}

pub async fn show(
    State(state): State<AppState>,
    browser: Browser,
    headers: HeaderMap,
    Query(q): Query<InteractionQuery>,
) -> Result<Response, PageError> {
    let AtStep {
        interaction: i,
        session,
        assessment: _,
    } = match visit(
        &state,
        &browser,
        &headers,
        q.interaction.as_deref(),
        Step::ChangePassword,
    )
    .await?
    {
        Visit::Here(here) => *here,
        Visit::Elsewhere(res) => return Ok(res),
    };
    let Some(s) = session.as_ref() else {
        return Err(PageError::expired());
    };
    let person = state
        .store
        .person(&s.person_id)
        .await?
        .ok_or_else(PageError::expired)?;
    let page = render::page(&SetPasswordPage {
        expired: person.password_temporary == 0,
        csrf: &browser.csrf_token(),
        interaction: i.id(),
        name: &person.name,
        time_zone: person.time_zone.as_deref().unwrap_or("UTC"),
        error: None,
        strength: None,
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
    let AtStep {
        interaction: i,
        session,
        assessment: _,
    } = match visit(
        &state,
        &browser,
        &headers,
        form.get("interaction"),
        Step::ChangePassword,
    )
    .await?
    {
        Visit::Here(here) => *here,
        Visit::Elsewhere(res) => return Ok(res),
    };
    let Some(s) = session.as_ref() else {
        return Err(PageError::expired());
    };
    let person = state
        .store
        .person(&s.person_id)
        .await?
        .ok_or_else(PageError::expired)?;
    let name = form.get("name").unwrap_or("");
    let time_zone = form.get("time_zone").unwrap_or("");
    let new = form.get("new_password").unwrap_or("");
    let confirm = form.get("confirm_password").unwrap_or("");
    let expired = person.password_temporary == 0;
    let result = if expired {
        account::password::replace_expired(&state, &person, new, confirm, &actor).await
    } else {
        account::password::replace_temporary(&state, &person, name, time_zone, new, confirm, &actor)
            .await
    };
    match result {
        // The person's row changed: the journey reads it again.
        Ok(()) => Ok(continue_journey(&state, &browser, i, session.as_ref(), None).await),
        Err(e) if e.is_input_problem() => Ok(render::page(&SetPasswordPage {
            expired,
            csrf: &browser.csrf_token(),
            interaction: i.id(),
            name,
            time_zone,
            error: Some(&e.to_string()),
            strength: (!new.is_empty()).then(|| strength_word(new, &person.email, name)),
        })),
        Err(e) => Err(e.into()),
    }
}
