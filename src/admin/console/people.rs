//! The firm's people: a filterable list (role, two-step sign-in, exemptions), invitations, role
//! changes, removal, reset links and — for owners — turning off a locked-out member's MFA (one
//! route per person: `/people/{person}/{action}`). Admins never set a password. Every person id
//! in a URL is checked against this firm.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::{gate, AdminVisit, Gate};
use crate::account::{invitation, mfa, reset, AccountError};
use crate::admin::members::{self, ROLES};
use crate::admin::AdminError;
use crate::app::AppState;
use crate::error::PageError;
use crate::store::firm_members::FirmPerson;
use crate::store::firms::ExemptFrom;
use crate::web::browser::Browser;
use crate::web::client_ip::RequestActor;
use crate::web::render;

#[derive(Deserialize, Default)]
pub struct Filters {
    q: Option<String>,
    role: Option<String>,
    mfa: Option<String>,
    done: Option<String>,
}

struct Row {
    person: FirmPerson,
    mfa_exempt: bool,
    sso_exempt: bool,
}

#[derive(Template)]
#[template(path = "admin_people.html")]
struct PeoplePage<'a> {
    firm_id: &'a str,
    firm_name: &'a str,
    role: &'a str,
    is_owner: bool,
    csrf: &'a str,
    rows: Vec<Row>,
    total: usize,
    q: &'a str,
    role_filter: &'a str,
    mfa_filter: &'a str,
    roles: [&'static str; 3],
    notice: Option<&'static str>,
    error: Option<String>,
}

async fn render_list(
    state: &AppState,
    browser: &Browser,
    visit: &AdminVisit,
    filters: &Filters,
    error: Option<String>,
) -> Result<Response, PageError> {
    let firm_id = &visit.membership.firm_id;
    let everyone = state.store.firm_people(firm_id).await?;
    let total = everyone.len();
    let mfa_exempt = state.store.exempted(firm_id, ExemptFrom::Mfa).await?;
    let sso_exempt = state.store.exempted(firm_id, ExemptFrom::Sso).await?;
    let q = filters.q.as_deref().unwrap_or("").trim().to_lowercase();
    let role = filters.role.as_deref().unwrap_or("");
    let mfa_on = filters.mfa.as_deref().unwrap_or("");
    let rows = everyone
        .into_iter()
        .filter(|p| {
            q.is_empty()
                || p.email.to_lowercase().contains(&q)
                || p.name.to_lowercase().contains(&q)
        })
        .filter(|p| role.is_empty() || p.role == role)
        .filter(|p| match mfa_on {
            "on" => p.mfa_active != 0,
            "off" => p.mfa_active == 0,
            _ => true,
        })
        .map(|p| Row {
            mfa_exempt: mfa_exempt.contains(&p.email),
            sso_exempt: sso_exempt.contains(&p.email),
            person: p,
        })
        .collect();
    // Fixed messages only: the query names one, it never supplies the words.
    let notice = match filters.done.as_deref() {
        Some("invited") => Some("The invitation was sent."),
        Some("role") => Some("The role was changed."),
        Some("removed") => Some("The person was removed from the firm."),
        Some("mfa") => {
            Some("Two-step sign-in was turned off for that person; they were told by e-mail.")
        }
        Some("reset") => Some("A link to choose a new password was sent."),
        _ => None,
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let firm_name = state
        .store
        .firm(firm_id)
        .await?
        .map(|f| f.name)
        .unwrap_or_default();
    let res = render::page_with_status(
        status,
        &PeoplePage {
            firm_id,
            firm_name: &firm_name,
            role: &visit.membership.role,
            is_owner: visit.membership.role == "owner",
            csrf: &browser.csrf_token(),
            rows,
            total,
            q: filters.q.as_deref().unwrap_or(""),
            role_filter: role,
            mfa_filter: mfa_on,
            roles: ROLES,
            notice,
            error,
        },
    );
    Ok(render::with_cookies(res, [browser.set_cookie.clone()]))
}

pub async fn list(
    State(state): State<AppState>,
    browser: Browser,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    Path(firm_id): Path<String>,
    Query(filters): Query<Filters>,
) -> Result<Response, PageError> {
    match gate(&state, &headers, &actor, &firm_id, "people").await? {
        Gate::Pass(visit) => render_list(&state, &browser, &visit, &filters, None).await,
        Gate::SignIn(res) => Ok(res),
    }
}

fn back(firm_id: &str, done: &str) -> Response {
    render::see_other(&format!("/admin/firms/{firm_id}/people?done={done}"))
}

/// The outcome of an action: back to the list with its notice, or the list with the reason.
async fn finish(
    state: &AppState,
    browser: &Browser,
    visit: &AdminVisit,
    result: Result<(), String>,
    done: &str,
) -> Result<Response, PageError> {
    match result {
        Ok(()) => Ok(back(&visit.membership.firm_id, done)),
        Err(why) => render_list(state, browser, visit, &Filters::default(), Some(why)).await,
    }
}

fn admin_problem(e: AdminError) -> Result<String, PageError> {
    match e {
        AdminError::Invalid(why) => Ok(why),
        AdminError::NoSuchFirm(_) | AdminError::NotInFirm(_) => Err(PageError::not_found()),
        AdminError::Store(s) => Err(s.into()),
        _ => Err(PageError::internal()),
    }
}

fn account_problem(e: AccountError) -> Result<String, PageError> {
    if e.is_input_problem() || matches!(e, AccountError::NotOwner(_)) {
        Ok(e.to_string())
    } else {
        Err(e.into())
    }
}

pub async fn invite(
    State(state): State<AppState>,
    browser: Browser,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    Path(firm_id): Path<String>,
    body: String,
) -> Result<Response, PageError> {
    let params = browser.csrf_form(&body)?;
    let visit = match gate(&state, &headers, &actor, &firm_id, "invite").await? {
        Gate::Pass(v) => v,
        Gate::SignIn(res) => return Ok(res),
    };
    let role = params.get("role").unwrap_or("member");
    let result = if role == "owner" && visit.membership.role != "owner" {
        Err("only an owner may invite an owner".to_owned())
    } else {
        match invitation::invite(
            &state,
            &firm_id,
            params.get("email").unwrap_or(""),
            params.get("name").unwrap_or(""),
            role,
            &actor,
        )
        .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(account_problem(e)?),
        }
    };
    finish(&state, &browser, &visit, result, "invited").await
}

/// The actions on one person, one route: `/people/{person}/{action}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PersonAction {
    Role,
    Remove,
    ResetMfa,
    SendReset,
}

impl PersonAction {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "role" => Some(PersonAction::Role),
            "remove" => Some(PersonAction::Remove),
            "reset-mfa" => Some(PersonAction::ResetMfa),
            "send-reset" => Some(PersonAction::SendReset),
            _ => None,
        }
    }

    /// The notice shown after it worked.
    fn done(self) -> &'static str {
        match self {
            PersonAction::Role => "role",
            PersonAction::Remove => "removed",
            PersonAction::ResetMfa => "mfa",
            PersonAction::SendReset => "reset",
        }
    }
}

/// `POST /admin/firms/{firm}/people/{person}/{action}`: the gate, the CSRF token, the person as a
/// member of this firm (404 otherwise, so other firms' ids reveal nothing), then one domain call.
pub async fn act(
    State(state): State<AppState>,
    browser: Browser,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    Path((firm_id, person_id, action)): Path<(String, String, String)>,
    body: String,
) -> Result<Response, PageError> {
    let action = PersonAction::parse(&action).ok_or_else(PageError::not_found)?;
    let params = browser.csrf_form(&body)?;
    let visit = match gate(&state, &headers, &actor, &firm_id, "people action").await? {
        Gate::Pass(v) => v,
        Gate::SignIn(res) => return Ok(res),
    };
    let person = state
        .store
        .firm_people(&firm_id)
        .await?
        .into_iter()
        .find(|p| p.person_id == person_id)
        .ok_or_else(PageError::not_found)?;
    let acting = &visit.membership;
    let result = match action {
        PersonAction::Role => {
            let role = params.get("role").unwrap_or("");
            members::change_role(&state, acting, &person.person_id, role, &actor)
                .await
                .map_err(admin_problem)
        }
        PersonAction::Remove => members::remove(&state, acting, &person.person_id, &actor)
            .await
            .map_err(admin_problem),
        // owner_reset_by checks the role itself: an admin who is not an owner is refused there.
        PersonAction::ResetMfa => {
            mfa::owner_reset_by(&state, &firm_id, &visit.person, &person.email, &actor)
                .await
                .map(|_| ())
                .map_err(account_problem)
        }
        PersonAction::SendReset => reset::send_by_admin(&state, &firm_id, &person.email, &actor)
            .await
            .map(|_| ())
            .map_err(account_problem),
    };
    // A problem the admin can fix goes back to the list with its reason; others are errors.
    let result: Result<(), String> = match result {
        Ok(()) => Ok(()),
        Err(problem) => Err(problem?),
    };
    finish(&state, &browser, &visit, result, action.done()).await
}
