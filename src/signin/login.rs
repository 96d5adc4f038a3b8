//! The sign-in page: e-mail and password. Unknown e-mail and wrong password get the same answer
//! after as long (an unknown account waits a time drawn from recent real verifications, see
//! `crypto::password`); failures are throttled per account and per address with growing locks,
//! and audited.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::interaction::{self, Interaction};
use super::journey::{continue_journey, visit, AtStep, Visit};
use super::session;
use super::throttle;
use crate::app::AppState;
use crate::audit::{self, AuditEvent};
use crate::crypto::password::{Password, Verified};
use crate::error::PageError;
use crate::oidc::claims::AMR_PASSWORD;
use crate::signin::flow::Step;
use crate::web::browser::Browser;
use crate::web::client_ip::RequestActor;
use crate::web::render;

pub const MAX_EMAIL_LEN: usize = 254;
pub const MAX_PASSWORD_LEN: usize = 1024;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    client_name: &'a str,
    csrf: &'a str,
    interaction: &'a str,
    email: &'a str,
    error: Option<&'a str>,
    /// (name, label) of the configured upstreams: "Sign in with Microsoft".
    upstreams: Vec<(String, String)>,
    /// The firm's name and logo, when the sign-in is known to be for one firm.
    brand: Option<super::branding::Brand>,
}

#[derive(serde::Deserialize)]
pub struct InteractionQuery {
    pub interaction: Option<String>,
}

fn login_page(
    state_upstreams: &crate::federation::Upstreams,
    browser: &Browser,
    i: &Interaction,
    (client_name, brand): (&str, Option<&super::branding::Brand>),
    email: &str,
    error: Option<&str>,
) -> Response {
    let page = render::page(&LoginPage {
        brand: brand.cloned(),
        client_name,
        csrf: &browser.csrf_token(),
        interaction: i.id(),
        email,
        error,
        upstreams: state_upstreams.buttons(),
    });
    render::with_cookies(page, [browser.set_cookie.clone()])
}

/// The firm the sign-in is known to be for: the application's, or the one `firm` preselects.
async fn firm_brand(
    state: &AppState,
    client: &crate::store::clients::ClientRecord,
    i: &Interaction,
) -> Result<Option<super::branding::Brand>, PageError> {
    let firm = client.firm_id.as_deref().or(i.request.firm.as_deref());
    Ok(super::branding::brand_of(state, firm).await?)
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
        Step::Login,
    )
    .await?
    {
        Visit::Here(here) => *here,
        Visit::Elsewhere(res) => return Ok(res),
    };
    let hint = i.request.login_hint.clone().unwrap_or_default();
    let brand = firm_brand(&state, &assessment.client, &i).await?;
    Ok(login_page(
        &state.upstreams,
        &browser,
        &i,
        (&assessment.client.name, brand.as_ref()),
        &hint,
        None,
    ))
}

pub async fn submit(
    State(state): State<AppState>,
    browser: Browser,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    body: String,
) -> Result<Response, PageError> {
    let form = browser.csrf_form(&body)?;
    let i = interaction::load(&state, &browser, form.get("interaction")).await?;
    let client = state
        .store
        .client(&i.request.client_id)
        .await?
        .ok_or_else(PageError::expired)?;
    let email = form.get("email").unwrap_or("").trim().to_owned();
    let password = form.get("password").unwrap_or("");
    let brand = firm_brand(&state, &client, &i).await?;
    let retry = |message: &str| -> Response {
        login_page(
            &state.upstreams,
            &browser,
            &i,
            (&client.name, brand.as_ref()),
            &email,
            Some(message),
        )
    };
    if email.is_empty() || password.is_empty() {
        return Ok(retry("Enter your email address and password."));
    }
    if email.len() > MAX_EMAIL_LEN || !email.contains('@') {
        return Ok(retry(
            "Enter a valid email address, like name@firm.example.",
        ));
    }
    if password.len() > MAX_PASSWORD_LEN || form.is_oversized("password") {
        return Ok(retry("Email or password is incorrect."));
    }
    let keys = throttle::login_keys(&email, actor.ip.as_deref());
    let now = state.clock.now();
    let checked = throttle::check(&state.store, &keys, now).await?;
    if let Some(wait) = checked.wait() {
        audit::record(
            &state.store,
            AuditEvent::SignInThrottled {
                person_id: None,
                client_id: &client.id,
            },
            &actor,
            now,
        )
        .await?;
        return Ok(retry(&throttle::message(wait)));
    }
    // Everything the journey will ask about the person, read once before the hash: the same
    // read for an unknown address, which then waits as long as a hash would take.
    let facts = state
        .store
        .sign_in_facts_by_email(&email, &client.id)
        .await?;
    let person = facts.as_ref().and_then(|f| f.person.clone());
    let verified = state
        .passwords
        .verify(
            &Password::new(password),
            person.as_ref().and_then(|p| p.password_hash.as_deref()),
        )
        .await
        .map_err(|_| PageError::internal())?;
    let (person, facts, rehash) = match (person, facts, verified) {
        (Some(p), Some(f), Verified::Yes { rehash }) => (p, f, rehash),
        (person, _, _) => {
            throttle::failed(&state.store, &keys, state.clock.now()).await?;
            let reason = if person.is_some() {
                "wrong password"
            } else {
                "unknown email"
            };
            audit::record(
                &state.store,
                AuditEvent::SignInFailed {
                    person_id: person.as_ref().map(|p| p.id.as_str()),
                    client_id: &client.id,
                    reason,
                },
                &actor,
                state.clock.now(),
            )
            .await?;
            return Ok(retry("Email or password is incorrect."));
        }
    };
    throttle::succeeded(&state.store, &keys, &checked).await?;
    if person.password_temporary != 0
        && person
            .password_expires_at
            .is_some_and(|t| state.clock.now() >= t)
    {
        audit::record(
            &state.store,
            AuditEvent::SignInFailed {
                person_id: Some(&person.id),
                client_id: &client.id,
                reason: "temporary password expired",
            },
            &actor,
            state.clock.now(),
        )
        .await?;
        return Ok(retry("This temporary password has expired. Ask your firm's administrator to invite you again."));
    }
    if let Some((firm_name, providers)) =
        super::sso_required::password_refused(&facts, client.firm_id.as_deref())?
    {
        audit::record(
            &state.store,
            AuditEvent::SignInFailed {
                person_id: Some(&person.id),
                client_id: &client.id,
                reason: "sso required",
            },
            &actor,
            state.clock.now(),
        )
        .await?;
        return Ok(retry(&format!(
            "{firm_name} requires you to sign in with {}, not with a password.",
            super::sso_required::providers_phrase(providers)
        )));
    }
    // A stored hash brought up to today's cost changes the person's row: the journey reads
    // the facts again rather than go on with the old ones.
    let facts = match rehash {
        Some(hash) => {
            state
                .store
                .set_password_hash(&person.id, &hash, state.clock.now())
                .await?;
            None
        }
        None => Some(facts),
    };
    let previous = session::current(&state, &headers).await?;
    let (session, cookie) = session::establish(
        &state,
        previous.as_ref(),
        &person.id,
        AMR_PASSWORD,
        None,
        &actor,
    )
    .await?;
    state
        .store
        .set_interaction_session(i.id(), &session.id)
        .await?;
    audit::record(
        &state.store,
        AuditEvent::SignIn {
            person_id: &person.id,
            firm_id: client.firm_id.as_deref(),
            client_id: &client.id,
        },
        &actor,
        state.clock.now(),
    )
    .await?;
    let mut i = i;
    i.record.authenticated_session_id = Some(session.id.clone());
    let res = continue_journey(&state, &browser, i, Some(&session), facts).await;
    Ok(render::with_cookies(
        res.into_response(),
        [cookie, browser.set_cookie.clone()],
    ))
}
