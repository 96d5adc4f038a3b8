//! My Profile's two-step sign-in forms: activate (QR code, `totp-secret`, `code1`/`code2`),
//! make new recovery codes, turn it off (a current code and a ticked box). Thin handlers over
//! `account::mfa`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::mfa::{self, SetupView};
use super::pages::{render_page, signed_in, to_signin, Redisplay, SignedIn};
use super::AccountError;
use crate::app::AppState;
use crate::error::PageError;
use crate::signin::mfa::{RecoveryCodesPage, SetupPage};
use crate::signin::session;
use crate::web::browser::Browser;
use crate::web::client_ip::RequestActor;
use crate::web::render;

fn setup_page(browser: &Browser, view: &SetupView, error: Option<String>) -> Response {
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = render::page_with_status(
        status,
        &SetupPage {
            action: "/account/mfa/activate",
            interaction: None,
            reason: None,
            csrf: &browser.csrf_token(),
            qr_svg: &view.qr_svg,
            secret: &view.secret_grouped,
            error,
        },
    );
    render::with_cookies(page, [browser.set_cookie.clone()])
}

/// My Profile again with the reason in the two-step section, for a problem the person can fix;
/// an error page otherwise.
async fn refused(
    state: &AppState,
    browser: &Browser,
    who: &SignedIn,
    e: AccountError,
) -> Result<Response, PageError> {
    if !e.is_input_problem() {
        return Err(e.into());
    }
    let redisplay = Redisplay {
        mfa_error: Some(e.to_string()),
        ..Redisplay::default()
    };
    render_page(state, browser, who, None, redisplay).await
}

/// `POST /account/mfa/setup` ("Activate"): a new pending secret, then the set-up page.
pub async fn begin(
    State(state): State<AppState>,
    browser: Browser,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    body: String,
) -> Result<Response, PageError> {
    browser.csrf_form(&body)?;
    let Some(who) = signed_in(&state, &headers).await? else {
        return Ok(to_signin());
    };
    match mfa::begin_setup(&state, &who.person, &actor).await {
        Ok(_) => Ok(render::see_other("/account/mfa")),
        Err(e) => refused(&state, &browser, &who, e).await,
    }
}

/// `GET /account/mfa`: the pending set-up (the only place the secret is ever shown).
pub async fn show(
    State(state): State<AppState>,
    browser: Browser,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let Some(who) = signed_in(&state, &headers).await? else {
        return Ok(to_signin());
    };
    match mfa::pending_setup(&state, &who.person).await? {
        Some(view) => Ok(setup_page(&browser, &view, None)),
        None => Ok(render::see_other("/account")),
    }
}

/// `POST /account/mfa/activate`: two consecutive codes; then the recovery codes, once.
pub async fn activate(
    State(state): State<AppState>,
    browser: Browser,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    body: String,
) -> Result<Response, PageError> {
    let form = browser.csrf_form(&body)?;
    let Some(who) = signed_in(&state, &headers).await? else {
        return Ok(to_signin());
    };
    let result = mfa::activate(
        &state,
        &who.person,
        form.get("code1").unwrap_or(""),
        form.get("code2").unwrap_or(""),
        &actor,
    )
    .await;
    match result {
        Ok(codes) => {
            // The factor was just proved: this browser's session now counts as MFA (a new one).
            let (_, cookie) = session::upgrade_to_mfa(&state, &who.session, &actor).await?;
            let page = render::page(&RecoveryCodesPage {
                intro: "Two-step sign-in is on.",
                codes: &codes,
                continue_url: "/account",
            });
            Ok(render::with_cookies(page, [cookie]))
        }
        Err(e) if e.is_input_problem() => match mfa::pending_setup(&state, &who.person).await? {
            Some(view) => Ok(setup_page(&browser, &view, Some(e.to_string()))),
            None => refused(&state, &browser, &who, e).await,
        },
        Err(e) => Err(e.into()),
    }
}

/// `POST /account/mfa/recovery`: new recovery codes after a current code.
pub async fn new_recovery_codes(
    State(state): State<AppState>,
    browser: Browser,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    body: String,
) -> Result<Response, PageError> {
    let form = browser.csrf_form(&body)?;
    let Some(who) = signed_in(&state, &headers).await? else {
        return Ok(to_signin());
    };
    match mfa::regenerate_recovery_codes(
        &state,
        &who.person,
        form.get("code").unwrap_or(""),
        &actor,
    )
    .await
    {
        Ok(codes) => Ok(render::page(&RecoveryCodesPage {
            intro: "Your earlier recovery codes no longer work.",
            codes: &codes,
            continue_url: "/account",
        })),
        Err(e) => refused(&state, &browser, &who, e).await,
    }
}

/// `POST /account/mfa/deactivate`: a current code, the ticked `confirm` box, and no firm that
/// keeps MFA on.
pub async fn deactivate(
    State(state): State<AppState>,
    browser: Browser,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    body: String,
) -> Result<Response, PageError> {
    let form = browser.csrf_form(&body)?;
    let Some(who) = signed_in(&state, &headers).await? else {
        return Ok(to_signin());
    };
    match mfa::deactivate(
        &state,
        &who.person,
        form.get("code").unwrap_or(""),
        form.get("confirm") == Some("yes"),
        &actor,
    )
    .await
    {
        Ok(()) => Ok(render::see_other("/account?done=mfa-off")),
        Err(e) => refused(&state, &browser, &who, e).await,
    }
}
