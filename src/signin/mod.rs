//! The sign-in journey: the state machine (`flow`), interactions bound to a browser, sessions,
//! and one page per step (login, the second factor, the forced password change, firm choice,
//! consent). Every page handler does its one job and
//! asks `journey` (which asks `flow::next_step`) where to go next.

pub mod branding;
pub mod consent;
pub mod flow;
pub mod forgot;
pub mod interaction;
pub mod journey;
pub mod login;
pub mod mfa;
pub mod select_firm;
pub mod session;
pub mod set_password;
pub mod sso;
pub mod sso_required;
pub mod throttle;
pub mod welcome;

use axum::routing::get;
use axum::Router;

use crate::app::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/signin/login", get(login::show).post(login::submit))
        .route(
            "/signin/firm",
            get(select_firm::show).post(select_firm::submit),
        )
        .route("/signin/consent", get(consent::show).post(consent::submit))
        .route(
            "/signin/mfa",
            get(mfa::show_challenge).post(mfa::submit_challenge),
        )
        .route(
            "/signin/mfa-setup",
            get(mfa::show_setup).post(mfa::submit_setup),
        )
        .route("/signin/continue", get(mfa::continue_after))
        .route(
            "/signin/mfa-offer",
            get(mfa::show_offer).post(mfa::answer_offer),
        )
        .route("/signin/sso-required", get(sso_required::show))
        .route(
            "/signin/password",
            get(set_password::show).post(set_password::submit),
        )
        .route("/signin/forgot", get(forgot::show).post(forgot::submit))
        .route(
            "/signin/reset",
            get(forgot::show_reset).post(forgot::submit_reset),
        )
        .route("/welcome", get(welcome::show))
        .route("/branding/{firm}/logo", get(branding::logo))
        .route("/sso/{provider}/start", axum::routing::post(sso::start))
        .route("/sso/{provider}/callback", get(sso::callback))
}
