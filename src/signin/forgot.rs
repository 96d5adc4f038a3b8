//! Forgotten password pages: ask for the link (same answer for every address), open the link
//! (reading consumes nothing), choose the new password (consumes the link once).

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use crate::account::password::strength_word;
use crate::account::{self, AccountError};
use crate::admin::users::check_email;
use crate::app::AppState;
use crate::error::PageError;
use crate::web::browser::Browser;
use crate::web::client_ip::RequestActor;
use crate::web::render;

#[derive(Template)]
#[template(path = "forgot.html")]
struct ForgotPage<'a> {
    csrf: &'a str,
    interaction: Option<&'a str>,
    sent: bool,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetPage<'a> {
    csrf: &'a str,
    token: &'a str,
    email: &'a str,
    done: bool,
    error: Option<&'a str>,
    strength: Option<&'static str>,
}

#[derive(Deserialize)]
pub struct ForgotQuery {
    interaction: Option<String>,
}

#[derive(Deserialize)]
pub struct ResetQuery {
    token: Option<String>,
}

fn interaction_id(raw: Option<&str>) -> Option<&str> {
    raw.filter(|i| {
        i.len() <= 64
            && i.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

pub async fn show(browser: Browser, Query(q): Query<ForgotQuery>) -> Response {
    let page = render::page(&ForgotPage {
        csrf: &browser.csrf_token(),
        interaction: interaction_id(q.interaction.as_deref()),
        sent: false,
        error: None,
    });
    render::with_cookies(page, [browser.set_cookie])
}

pub async fn submit(
    State(state): State<AppState>,
    browser: Browser,
    RequestActor(actor): RequestActor,
    body: String,
) -> Result<Response, PageError> {
    let form = browser.csrf_form(&body)?;
    let interaction = interaction_id(form.get("interaction"));
    let email = form.get("email").unwrap_or("").trim();
    if check_email(email).is_err() || form.is_oversized("email") {
        return Ok(render::page(&ForgotPage {
            csrf: &browser.csrf_token(),
            interaction,
            sent: false,
            error: Some("Enter a valid email address, like name@firm.example."),
        }));
    }
    account::reset::request(&state, email, &actor).await?;
    Ok(render::page(&ForgotPage {
        csrf: &browser.csrf_token(),
        interaction,
        sent: true,
        error: None,
    }))
}

pub async fn show_reset(
    State(state): State<AppState>,
    browser: Browser,
    Query(q): Query<ResetQuery>,
) -> Result<Response, PageError> {
    let token = q.token.unwrap_or_default();
    let person = account::reset::holder(&state, &token).await?;
    let page = render::page(&ResetPage {
        csrf: &browser.csrf_token(),
        token: &token,
        email: &person.email,
        done: false,
        error: None,
        strength: None,
    });
    Ok(render::with_cookies(page, [browser.set_cookie.clone()]))
}

pub async fn submit_reset(
    State(state): State<AppState>,
    browser: Browser,
    RequestActor(actor): RequestActor,
    body: String,
) -> Result<Response, PageError> {
    let form = browser.csrf_form(&body)?;
    let token = form.get("token").unwrap_or("");
    let new = form.get("new_password").unwrap_or("");
    let confirm = form.get("confirm_password").unwrap_or("");
    match account::reset::complete(&state, token, new, confirm, &actor).await {
        Ok(person) => Ok(render::with_cookies(
            render::page(&ResetPage {
                csrf: "",
                token: "",
                email: &person.email,
                done: true,
                error: None,
                strength: None,
            }),
            [super::session::clear_cookie(&state)],
        )),
        Err(e) if e.is_input_problem() => {
            let person = account::reset::holder(&state, token).await?;
            Ok(render::page(&ResetPage {
                csrf: &browser.csrf_token(),
                token,
                email: &person.email,
                done: false,
                error: Some(&e.to_string()),
                strength: (!new.is_empty())
                    .then(|| strength_word(new, &person.email, &person.name)),
            }))
        }
        Err(AccountError::LinkInvalid) => Err(AccountError::LinkInvalid.into()),
        Err(e) => Err(e.into()),
    }
}
