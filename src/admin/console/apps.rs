//! The firm's relying-party applications: register one (bound to this firm, its secret shown
//! once), edit its redirect URIs, rotate its secret. Only applications bound to this firm are
//! listed or changed; others (including unbound ones registered with the CLI) are out of reach.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::{gate, AdminVisit, Gate};
use crate::admin::clients::{create_client_as, rotate_secret, set_redirect_uris, ClientSpec};
use crate::admin::AdminError;
use crate::app::AppState;
use crate::error::PageError;
use crate::store::clients::ClientRecord;
use crate::web::browser::Browser;
use crate::web::client_ip::RequestActor;
use crate::web::render;

struct AppRow {
    client: ClientRecord,
    redirect_uris: String,
    logout_uris: String,
}

#[derive(Template)]
#[template(path = "admin_apps.html")]
struct AppsPage<'a> {
    firm_id: &'a str,
    firm_name: &'a str,
    role: &'a str,
    csrf: &'a str,
    apps: Vec<AppRow>,
    notice: Option<&'static str>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_app_secret.html")]
struct SecretPage<'a> {
    firm_id: &'a str,
    client_name: &'a str,
    client_id: &'a str,
    secret: Option<&'a str>,
}

#[derive(Deserialize)]
pub struct AppsQuery {
    done: Option<String>,
}

async fn render_list(
    state: &AppState,
    browser: &Browser,
    visit: &AdminVisit,
    notice: Option<&'static str>,
    error: Option<String>,
) -> Result<Response, PageError> {
    let firm_id = &visit.membership.firm_id;
    let apps = state
        .store
        .clients_of_firm(firm_id)
        .await?
        .into_iter()
        .map(|c| AppRow {
            redirect_uris: c.redirect_uris.join("\n"),
            logout_uris: c.post_logout_redirect_uris.join("\n"),
            client: c,
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let res = render::page_with_status(
        status,
        &AppsPage {
            firm_id,
            firm_name: &visit.membership.firm_name,
            role: &visit.membership.role,
            csrf: &browser.csrf_token(),
            apps,
            notice,
            error,
        },
    );
    Ok(render::with_cookies(res, [browser.set_cookie.clone()]))
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

fn problem(e: AdminError) -> Result<String, PageError> {
    match e {
        AdminError::Invalid(why) => Ok(why),
        AdminError::NoSuchFirm(_) | AdminError::NotInFirm(_) => Err(PageError::not_found()),
        AdminError::Store(s) => Err(s.into()),
        _ => Err(PageError::internal()),
    }
}

pub async fn list(
    State(state): State<AppState>,
    browser: Browser,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    Path(firm_id): Path<String>,
    Query(q): Query<AppsQuery>,
) -> Result<Response, PageError> {
    let visit = match gate(&state, &headers, &actor, &firm_id, "apps").await? {
        Gate::Pass(v) => v,
        Gate::SignIn(res) => return Ok(res),
    };
    let notice = match q.done.as_deref() {
        Some("uris") => Some("The redirect URIs were saved."),
        _ => None,
    };
    render_list(&state, &browser, &visit, notice, None).await
}

pub async fn register(
    State(state): State<AppState>,
    browser: Browser,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    Path(firm_id): Path<String>,
    body: String,
) -> Result<Response, PageError> {
    let form = browser.csrf_form(&body)?;
    let visit = match gate(&state, &headers, &actor, &firm_id, "apps").await? {
        Gate::Pass(v) => v,
        Gate::SignIn(res) => return Ok(res),
    };
    let spec = ClientSpec {
        name: form.get("name").unwrap_or("").to_owned(),
        redirect_uris: lines(form.get("redirect_uris").unwrap_or("")),
        post_logout_redirect_uris: lines(form.get("post_logout_redirect_uris").unwrap_or("")),
        public: form.get("kind") == Some("public"),
        first_party: form.get("first_party") == Some("on"),
        firm_id: Some(firm_id.clone()),
        ..ClientSpec::default()
    };
    match create_client_as(&state, &spec, &actor).await {
        Ok(created) => Ok(render::page(&SecretPage {
            firm_id: &firm_id,
            client_name: spec.name.trim(),
            client_id: &created.client_id,
            secret: created.client_secret.as_deref(),
        })),
        Err(e) => render_list(&state, &browser, &visit, None, Some(problem(e)?)).await,
    }
}

pub async fn save_uris(
    State(state): State<AppState>,
    browser: Browser,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    Path((firm_id, client_id)): Path<(String, String)>,
    body: String,
) -> Result<Response, PageError> {
    let form = browser.csrf_form(&body)?;
    let visit = match gate(&state, &headers, &actor, &firm_id, "apps").await? {
        Gate::Pass(v) => v,
        Gate::SignIn(res) => return Ok(res),
    };
    let result = set_redirect_uris(
        &state,
        &firm_id,
        &client_id,
        &lines(form.get("redirect_uris").unwrap_or("")),
        &lines(form.get("post_logout_redirect_uris").unwrap_or("")),
        &actor,
    )
    .await;
    match result {
        Ok(()) => Ok(render::see_other(&format!(
            "/admin/firms/{firm_id}/apps?done=uris"
        ))),
        Err(e) => render_list(&state, &browser, &visit, None, Some(problem(e)?)).await,
    }
}

pub async fn new_secret(
    State(state): State<AppState>,
    browser: Browser,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    Path((firm_id, client_id)): Path<(String, String)>,
    body: String,
) -> Result<Response, PageError> {
    browser.csrf_form(&body)?;
    let visit = match gate(&state, &headers, &actor, &firm_id, "apps").await? {
        Gate::Pass(v) => v,
        Gate::SignIn(res) => return Ok(res),
    };
    match rotate_secret(&state, &firm_id, &client_id, &actor).await {
        Ok(secret) => {
            let name = state
                .store
                .client(&client_id)
                .await?
                .map(|c| c.name)
                .unwrap_or_default();
            Ok(render::page(&SecretPage {
                firm_id: &firm_id,
                client_name: &name,
                client_id: &client_id,
                secret: Some(&secret),
            }))
        }
        Err(e) => render_list(&state, &browser, &visit, None, Some(problem(e)?)).await,
    }
}
