//! The second-factor steps of the journey: the challenge (`Step::ChallengeMfa`, input `code`,
//! "Confirm") and set-up when a relying party asks for MFA from someone without it
//! (`Step::EnrolMfa`). Passing either starts a new session with `amr` "pwd otp mfa"; too many
//! wrong codes end the interaction and the half-finished session.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::journey::{continue_journey, visit, AtStep, Visit};
use super::login::InteractionQuery;
use super::session;
use crate::account::mfa::{self, SetupView};
use crate::account::AccountError;
use crate::app::AppState;
use crate::audit::Actor;
use crate::error::PageError;
use crate::signin::flow::Step;
use crate::signin::interaction::{self, Interaction};
use crate::store::people::Person;
use crate::store::sessions::SessionRecord;
use crate::web::browser::Browser;
use crate::web::client_ip::RequestActor;
use crate::web::render;

#[derive(Template)]
#[template(path = "mfa_challenge.html")]
struct ChallengePage<'a> {
    email: &'a str,
    csrf: &'a str,
    interaction: &'a str,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "mfa_setup.html")]
pub struct SetupPage<'a> {
    pub action: &'a str,
    pub interaction: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub csrf: &'a str,
    pub qr_svg: &'a str,
    pub secret: &'a str,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
pub struct RecoveryCodesPage<'a> {
    pub intro: &'a str,
    pub codes: &'a [String],
    pub continue_url: &'a str,
}

async fn at_step(
    state: &AppState,
    browser: &Browser,
    headers: &HeaderMap,
    interaction_id: Option<&str>,
    step: Step,
) -> Result<Result<(Interaction, SessionRecord, Person), Response>, PageError> {
    let AtStep {
        interaction,
        session,
        ..
    } = match visit(state, browser, headers, interaction_id, step).await? {
        Visit::Here(here) => *here,
        Visit::Elsewhere(res) => return Ok(Err(res)),
    };
    let session = session.ok_or_else(PageError::expired)?;
    let person = state
        .store
        .person(&session.person_id)
        .await?
        .ok_or_else(PageError::expired)?;
    Ok(Ok((interaction, session, person)))
}

/// The second factor is proved: a new session, the interaction follows it, the journey goes on.
async fn proved(
    state: &AppState,
    mut i: Interaction,
    old: &SessionRecord,
    actor: &Actor,
) -> Result<(Interaction, SessionRecord, Option<axum::http::HeaderValue>), PageError> {
    let (new, cookie) = session::upgrade_to_mfa(state, old, actor).await?;
    if i.record.authenticated_session_id.as_deref() == Some(old.id.as_str()) {
        state.store.set_interaction_session(i.id(), &new.id).await?;
        i.record.authenticated_session_id = Some(new.id.clone());
    }
    Ok((i, new, cookie))
}

pub async fn show_challenge(
    State(state): State<AppState>,
    browser: Browser,
    headers: HeaderMap,
    Query(q): Query<InteractionQuery>,
) -> Result<Response, PageError> {
    let (i, _, person) = match at_step(
        &state,
        &browser,
        &headers,
        q.interaction.as_deref(),
        Step::ChallengeMfa,
    )
    .await?
    {
        Ok(here) => here,
        Err(elsewhere) => return Ok(elsewhere),
    };
    let page = render::page(&ChallengePage {
        email: &person.email,
        csrf: &browser.csrf_token(),
        interaction: i.id(),
        error: None,
    });
    Ok(render::with_cookies(page, [browser.set_cookie.clone()]))
}

pub async fn submit_challenge(
    State(state): State<AppState>,
    browser: Browser,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    body: String,
) -> Result<Response, PageError> {
    let form = browser.csrf_form(&body)?;
    let (i, old, person) = match at_step(
        &state,
        &browser,
        &headers,
        form.get("interaction"),
        Step::ChallengeMfa,
    )
    .await?
    {
        Ok(here) => here,
        Err(elsewhere) => return Ok(elsewhere),
    };
    let code = form.get("code").unwrap_or("");
    match mfa::check_code(&state, &person, code, "challenge", &actor).await {
        Ok(_) => {
            let (i, new, cookie) = proved(&state, i, &old, &actor).await?;
            let res = continue_journey(&state, &browser, i, Some(&new), None).await;
            Ok(render::with_cookies(res, [cookie]))
        }
        Err(AccountError::CodeThrottled(wait)) => {
            // NIST SP 800-63B §5.2.2: the attempt ends here; the password is needed again.
            let now = state.clock.now();
            state.store.complete_interaction(i.id(), now).await?;
            state
                .store
                .end_session(&old.id, now, "too many wrong codes")
                .await?;
            let err = PageError {
                status: StatusCode::TOO_MANY_REQUESTS,
                title: "Too many wrong codes".into(),
                message: format!(
                    "{} Go back to the application and sign in again.",
                    AccountError::CodeThrottled(wait)
                ),
            };
            Ok(render::with_cookies(
                axum::response::IntoResponse::into_response(err),
                [session::clear_cookie(&state)],
            ))
        }
        Err(e) if e.is_input_problem() => Ok(render::page_with_status(
            StatusCode::BAD_REQUEST,
            &ChallengePage {
                email: &person.email,
                csrf: &browser.csrf_token(),
                interaction: i.id(),
                error: Some(e.to_string()),
            },
        )),
        Err(e) => Err(e.into()),
    }
}

fn setup_page(
    browser: &Browser,
    interaction: &str,
    view: &SetupView,
    error: Option<&str>,
) -> Response {
    let error = error.map(str::to_owned);
    let page = SetupPage {
        action: "/signin/mfa-setup",
        interaction: Some(interaction),
        reason: Some("To continue, set up two-step sign-in now."),
        csrf: &browser.csrf_token(),
        qr_svg: &view.qr_svg,
        secret: &view.secret_grouped,
        error: error.clone(),
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render::with_cookies(
        render::page_with_status(status, &page),
        [browser.set_cookie.clone()],
    )
}

pub async fn show_setup(
    State(state): State<AppState>,
    browser: Browser,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    Query(q): Query<InteractionQuery>,
) -> Result<Response, PageError> {
    let (i, _, person) = match at_step(
        &state,
        &browser,
        &headers,
        q.interaction.as_deref(),
        Step::EnrolMfa,
    )
    .await?
    {
        Ok(here) => here,
        Err(elsewhere) => return Ok(elsewhere),
    };
    let view = match mfa::pending_setup(&state, &person).await? {
        Some(v) => v,
        None => mfa::begin_setup(&state, &person, &actor).await?,
    };
    Ok(setup_page(&browser, i.id(), &view, None))
}

pub async fn submit_setup(
    State(state): State<AppState>,
    browser: Browser,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    body: String,
) -> Result<Response, PageError> {
    let form = browser.csrf_form(&body)?;
    let (i, old, person) = match at_step(
        &state,
        &browser,
        &headers,
        form.get("interaction"),
        Step::EnrolMfa,
    )
    .await?
    {
        Ok(here) => here,
        Err(elsewhere) => return Ok(elsewhere),
    };
    let result = mfa::activate(
        &state,
        &person,
        form.get("code1").unwrap_or(""),
        form.get("code2").unwrap_or(""),
        &actor,
    )
    .await;
    match result {
        Ok(codes) => {
            let (i, _, cookie) = proved(&state, i, &old, &actor).await?;
            let page = render::page(&RecoveryCodesPage {
                intro: "Two-step sign-in is on.",
                codes: &codes,
                continue_url: &format!("/signin/continue?interaction={}", i.id()),
            });
            Ok(render::with_cookies(page, [cookie]))
        }
        Err(e) if e.is_input_problem() => {
            let view = match mfa::pending_setup(&state, &person).await? {
                Some(v) => v,
                None => mfa::begin_setup(&state, &person, &actor).await?,
            };
            Ok(setup_page(&browser, i.id(), &view, Some(&e.to_string())))
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /signin/continue`: goes on with the journey wherever it is (after the recovery codes).
pub async fn continue_after(
    State(state): State<AppState>,
    browser: Browser,
    headers: HeaderMap,
    Query(q): Query<InteractionQuery>,
) -> Result<Response, PageError> {
    let i = interaction::load(&state, &browser, q.interaction.as_deref()).await?;
    let session = session::current(&state, &headers).await?;
    Ok(continue_journey(&state, &browser, i, session.as_ref(), None).await)
}

#[derive(Template)]
#[template(path = "mfa_offer.html")]
struct OfferPage<'a> {
    firm_name: &'a str,
    csrf: &'a str,
    interaction: &'a str,
}

/// `GET /signin/mfa-offer`: the firm offers two-step set-up (its `prompt` mode).
pub async fn show_offer(
    State(state): State<AppState>,
    browser: Browser,
    headers: HeaderMap,
    Query(q): Query<InteractionQuery>,
) -> Result<Response, PageError> {
    let AtStep {
        interaction,
        assessment,
        ..
    } = match visit(
        &state,
        &browser,
        &headers,
        q.interaction.as_deref(),
        Step::OfferMfa,
    )
    .await?
    {
        Visit::Here(here) => *here,
        Visit::Elsewhere(res) => return Ok(res),
    };
    let page = render::page(&OfferPage {
        firm_name: assessment
            .firm
            .as_ref()
            .map_or("Your firm", |f| f.firm_name.as_str()),
        csrf: &browser.csrf_token(),
        interaction: interaction.id(),
    });
    Ok(render::with_cookies(page, [browser.set_cookie.clone()]))
}

/// `POST /signin/mfa-offer`: `decision=setup` or `decision=skip`.
pub async fn answer_offer(
    State(state): State<AppState>,
    browser: Browser,
    headers: HeaderMap,
    body: String,
) -> Result<Response, PageError> {
    let form = browser.csrf_form(&body)?;
    let answer = match form.get("decision") {
        Some("setup") => "setup",
        Some("skip") => "skipped",
        _ => {
            return Err(PageError::bad_request(
                "Invalid answer",
                "Choose Set up now or Not now.",
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
        Step::OfferMfa,
    )
    .await?
    {
        Visit::Here(here) => *here,
        Visit::Elsewhere(res) => return Ok(res),
    };
    state
        .store
        .set_interaction_mfa_offer(i.id(), answer)
        .await?;
    i.record.mfa_offer = Some(answer.to_owned());
    // Only the interaction changed: the facts just read still hold.
    Ok(continue_journey(&state, &browser, i, session.as_ref(), assessment.facts).await)
}
