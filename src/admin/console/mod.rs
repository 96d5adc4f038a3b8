//! The firm admin console at `/admin`: server-rendered, no script needed, CSRF on every form.
//! Reached through firmgate's own journey with the MFA acr (so always after a second factor),
//! and only by a firm's `admin` or `owner`. Every page is under `/admin/firms/{firm}` and every
//! query is scoped to that firm: another firm's id, guessed or not, gets a 404, audited.

pub mod apps;
pub mod audit_log;
pub mod people;
pub mod settings;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use crate::account::console_signin::{self, CallbackQuery, Console};
use crate::account::pages::signed_in;
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent};
use crate::error::PageError;
use crate::oidc::claims::amr_has_mfa;
use crate::store::people::{Membership, Person};
use crate::store::sessions::SessionRecord;
use crate::web::render;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(home))
        .route("/admin/signin", get(signin))
        .route("/admin/callback", get(callback))
        .route("/admin/firms/{firm}", get(firm_home))
        .route(
            "/admin/firms/{firm}/settings",
            get(settings::show).post(settings::save),
        )
        .route("/admin/firms/{firm}/logo", post(settings::upload_logo))
        .route("/admin/firms/{firm}/people", get(people::list))
        .route("/admin/firms/{firm}/people/invite", post(people::invite))
        .route(
            "/admin/firms/{firm}/people/{person}/{action}",
            post(people::act),
        )
        .route("/admin/firms/{firm}/audit", get(audit_log::show))
        .route(
            "/admin/firms/{firm}/apps",
            get(apps::list).post(apps::register),
        )
        .route(
            "/admin/firms/{firm}/apps/{client}/uris",
            post(apps::save_uris),
        )
        .route(
            "/admin/firms/{firm}/apps/{client}/secret",
            post(apps::new_secret),
        )
}

/// A signed-in admin of one firm, after a second factor.
pub struct AdminVisit {
    pub session: SessionRecord,
    pub person: Person,
    /// The admin's own membership (role `admin` or `owner`) in the firm of the page.
    pub membership: Membership,
}

pub enum Gate {
    Pass(Box<AdminVisit>),
    /// Sign in first (or again, with a second factor).
    SignIn(Response),
}

fn to_signin() -> Response {
    render::see_other("/admin/signin")
}

pub fn is_admin_role(role: &str) -> bool {
    role == "admin" || role == "owner"
}

/// The gate of every admin page: a live session that proved a second factor, and the admin
/// role in `firm_id`. Anyone else asking for a firm gets 404 (nothing says it exists), audited.
pub async fn gate(
    state: &AppState,
    headers: &HeaderMap,
    actor: &Actor,
    firm_id: &str,
    path: &str,
) -> Result<Gate, PageError> {
    let Some(who) = signed_in(state, headers).await? else {
        return Ok(Gate::SignIn(to_signin()));
    };
    if !amr_has_mfa(&who.session.amr) {
        return Ok(Gate::SignIn(to_signin()));
    }
    let membership = state
        .store
        .membership(firm_id, &who.person.id)
        .await?
        .filter(|m| is_admin_role(&m.role));
    let Some(membership) = membership else {
        audit::record(
            &state.store,
            AuditEvent::AdminAccessRefused {
                person_id: &who.person.id,
                firm_id: &firm_id.chars().take(64).collect::<String>(),
                path: &path.chars().take(200).collect::<String>(),
            },
            actor,
            state.clock.now(),
        )
        .await?;
        return Err(PageError::not_found());
    };
    Ok(Gate::Pass(Box::new(AdminVisit {
        session: who.session,
        person: who.person,
        membership,
    })))
}

async fn signin(State(state): State<AppState>) -> Result<Response, PageError> {
    console_signin::start_for(&state, Console::Admin).await
}

async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, PageError> {
    console_signin::callback_for(&state, &headers, &q, Console::Admin).await
}

#[derive(Template)]
#[template(path = "admin_home.html")]
struct HomePage {
    firms: Vec<Membership>,
}

/// `GET /admin`: the firms this person administers (straight to the only one).
async fn home(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    let Some(who) = signed_in(&state, &headers).await? else {
        return Ok(to_signin());
    };
    if !amr_has_mfa(&who.session.amr) {
        return Ok(to_signin());
    }
    let firms: Vec<Membership> = state
        .store
        .memberships_of(&who.person.id)
        .await?
        .into_iter()
        .filter(|m| is_admin_role(&m.role))
        .collect();
    match firms.as_slice() {
        [only] => Ok(render::see_other(&format!(
            "/admin/firms/{}/settings",
            only.firm_id
        ))),
        [] => Ok(render::page_with_status(
            StatusCode::FORBIDDEN,
            &HomePage { firms },
        )),
        _ => Ok(render::page(&HomePage { firms })),
    }
}

async fn firm_home(axum::extract::Path(firm): axum::extract::Path<String>) -> Response {
    render::see_other(&format!(
        "/admin/firms/{}/settings",
        form_urlencoded::byte_serialize(firm.as_bytes()).collect::<String>()
    ))
}
