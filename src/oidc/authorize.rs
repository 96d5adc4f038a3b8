//! The authorization endpoint (OIDC Core §3.1.2), GET and POST alike (§3.1.2.1). Validates the
//! request, then hands it to the sign-in journey, which decides what happens next.

use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};

use super::request::{self, RequestError};
use super::response;
use crate::app::AppState;
use crate::error::PageError;
use crate::signin::journey::{act, assess};
use crate::signin::session;
use crate::web::browser::Browser;
use crate::web::params::Params;
use crate::web::render;

pub async fn authorize(
    State(state): State<AppState>,
    browser: Browser,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let raw = if method == Method::POST {
        body
    } else {
        uri.query().unwrap_or("").to_owned()
    };
    let result = handle(&state, &browser, &headers, &raw).await;
    let res = result.unwrap_or_else(IntoResponse::into_response);
    render::with_cookies(res, [browser.set_cookie.clone()])
}

async fn handle(
    state: &AppState,
    browser: &Browser,
    headers: &HeaderMap,
    raw: &str,
) -> Result<Response, PageError> {
    let params = Params::parse(raw).map_err(|_| {
        PageError::bad_request("Invalid request", "The request has too many parameters.")
    })?;
    let now = state.clock.now();
    let client_id = request::check_client_id(&params).map_err(page_error)?;
    let client = state.store.client(client_id).await?.ok_or_else(|| {
        PageError::bad_request(
            "Unknown application",
            "The application that sent you here is not registered with firmgate.",
        )
    })?;
    let redirect_uri = request::check_redirect_uri(&params, &client).map_err(page_error)?;
    let issuer = state.issuer();
    let request = match request::validate(
        &params,
        &client,
        redirect_uri,
        &state.keys.current(),
        &issuer,
        now,
    ) {
        Ok(r) => r,
        Err(RequestError::Redirect {
            target,
            code,
            description,
        }) => {
            return Ok(response::error(
                &target.redirect_uri,
                target.response_mode,
                target.state.as_deref(),
                &issuer,
                code,
                &description,
            ))
        }
        Err(e) => return Err(page_error(e)),
    };
    let session = session::current(state, headers).await?;
    let assessment = assess(state, browser.ip, &request, None, session.as_ref(), None).await?;
    act(state, browser, &request, None, session.as_ref(), assessment).await
}

fn page_error(e: RequestError) -> PageError {
    match e {
        RequestError::Page { title, message } => PageError::bad_request(title, message),
        RequestError::Redirect { description, .. } => {
            PageError::bad_request("Invalid request", description)
        }
    }
}
