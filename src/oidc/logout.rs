//! RP-Initiated Logout 1.0. With a valid `id_token_hint` (our signature, our issuer; expired is
//! fine, §2) and a `post_logout_redirect_uri` registered for that client by exact match, the
//! session ends and the browser goes back with `state`. Anything less (no hint, a bad or
//! modified hint, an unregistered URI) asks the person to confirm; after confirmation the browser
//! is redirected only to a URI registered for the named client, and never for a bad hint.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use url::Url;

use crate::app::AppState;
use crate::audit::{self, AuditEvent};
use crate::crypto::jwt;
use crate::error::PageError;
use crate::signin::session;
use crate::web::browser::Browser;
use crate::web::client_ip::RequestActor;
use crate::web::params::Params;
use crate::web::render;

#[derive(Template)]
#[template(path = "logout.html")]
struct ConfirmPage<'a> {
    csrf: &'a str,
    notice: Option<&'a str>,
    client_id: Option<&'a str>,
    post_logout_redirect_uri: Option<&'a str>,
    state: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "signed_out.html")]
struct SignedOutPage;

/// The hint's audience, if it is one of our ID tokens.
fn hint_audience(state: &AppState, hint: &str) -> Option<String> {
    let v = jwt::verify(&state.keys.current(), hint, state.clock.now()).ok()?;
    if v.typ
        .as_deref()
        .is_some_and(|t| !t.eq_ignore_ascii_case("JWT"))
    {
        return None;
    }
    if v.claims.get("iss").and_then(Value::as_str) != Some(state.issuer().as_str()) {
        return None;
    }
    match v.claims.get("aud")? {
        Value::String(s) => Some(s.clone()),
        Value::Array(a) => a.first().and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

async fn registered(
    state: &AppState,
    client_id: Option<&str>,
    uri: Option<&str>,
) -> Result<bool, PageError> {
    let (Some(id), Some(uri)) = (client_id, uri) else {
        return Ok(false);
    };
    Ok(state
        .store
        .client(id)
        .await?
        .is_some_and(|c| c.post_logout_redirect_uris.iter().any(|r| r == uri)))
}

async fn end_current_session(
    state: &AppState,
    headers: &HeaderMap,
    actor: &crate::audit::Actor,
) -> Result<(), PageError> {
    if let Some(s) = session::current(state, headers).await? {
        let now = state.clock.now();
        state.store.end_session(&s.id, now, "signed out").await?;
        state.backchannel.notify_one();
        audit::record(
            &state.store,
            AuditEvent::SignOut {
                person_id: &s.person_id,
                session_id: &s.id,
            },
            actor,
            now,
        )
        .await?;
    }
    Ok(())
}

fn back_to(uri: &str, rp_state: Option<&str>) -> Response {
    let Ok(mut url) = Url::parse(uri) else {
        return PageError::internal().into_response();
    };
    if let Some(s) = rp_state {
        url.query_pairs_mut().append_pair("state", s);
    }
    render::see_other(url.as_str())
}

pub fn signed_out(state: &AppState) -> Response {
    render::with_cookies(render::page(&SignedOutPage), [session::clear_cookie(state)])
}

pub async fn end_session(
    State(state): State<AppState>,
    browser: Browser,
    RequestActor(actor): RequestActor,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Result<Response, PageError> {
    let raw = if method == Method::POST {
        body
    } else {
        uri.query().unwrap_or("").to_owned()
    };
    let params = Params::parse(&raw)
        .map_err(|_| PageError::bad_request("Invalid sign-out request", "Too many parameters."))?;
    if let Some(name) = params.first_duplicate().or(params.first_oversized()) {
        return Err(PageError::bad_request(
            "Invalid sign-out request",
            format!("The {name} parameter is repeated or too long."),
        ));
    }
    let plru = params.get("post_logout_redirect_uri");
    let rp_state = params.get("state");
    let hint = params.get("id_token_hint");
    let hinted_client = hint.and_then(|h| hint_audience(&state, h));
    let client_id = params.get("client_id");
    let hint_ok = hint.is_some()
        && hinted_client.is_some()
        && client_id.is_none_or(|c| Some(c) == hinted_client.as_deref());

    if hint_ok {
        let target = if registered(&state, hinted_client.as_deref(), plru).await? {
            plru
        } else {
            None
        };
        if plru.is_none() || target.is_some() {
            end_current_session(&state, &headers, &actor).await?;
            return Ok(match target {
                Some(t) => {
                    render::with_cookies(back_to(t, rp_state), [session::clear_cookie(&state)])
                }
                None => signed_out(&state),
            });
        }
    }
    let notice = if hint.is_some() && !hint_ok {
        Some("The application's sign-out request could not be verified. You can still sign out of firmgate here.")
    } else if plru.is_some()
        && !registered(&state, client_id.or(hinted_client.as_deref()), plru).await?
    {
        Some("The application asked to return to an address that is not registered for it, so you will stay on firmgate after signing out.")
    } else {
        None
    };
    // A bad hint never leads to a redirect, confirmed or not.
    let carry = hint.is_none() || hint_ok;
    let carried_client = client_id.map(str::to_owned).or(hinted_client);
    let page = render::page(&ConfirmPage {
        csrf: &browser.csrf_token(),
        notice,
        client_id: carry.then_some(carried_client.as_deref()).flatten(),
        post_logout_redirect_uri: carry.then_some(plru).flatten(),
        state: carry.then_some(rp_state).flatten(),
    });
    Ok(render::with_cookies(page, [browser.set_cookie.clone()]))
}

pub async fn confirm(
    State(state): State<AppState>,
    browser: Browser,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    body: String,
) -> Result<Response, PageError> {
    let form = browser.csrf_form(&body)?;
    end_current_session(&state, &headers, &actor).await?;
    let plru = form.get("post_logout_redirect_uri");
    if registered(&state, form.get("client_id"), plru).await? {
        if let Some(target) = plru {
            return Ok(render::with_cookies(
                back_to(target, form.get("state")),
                [session::clear_cookie(&state)],
            ));
        }
    }
    Ok(signed_out(&state))
}
