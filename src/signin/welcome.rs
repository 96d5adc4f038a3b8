//! The page an invitation links to. A GET changes nothing, so mail scanners that open links
//! cannot use anything up.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use crate::app::AppState;
use crate::error::PageError;
use crate::web::render;

#[derive(Template)]
#[template(path = "welcome.html")]
struct WelcomePage<'a> {
    firm_name: Option<&'a str>,
}

#[derive(Deserialize)]
pub struct WelcomeQuery {
    firm: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    Query(q): Query<WelcomeQuery>,
) -> Result<Response, PageError> {
    let firm = match q.firm.as_deref().filter(|f| f.len() <= 64) {
        Some(id) => state.store.firm(id).await?,
        None => None,
    };
    Ok(render::page(&WelcomePage {
        firm_name: firm.as_ref().map(|f| f.name.as_str()),
    }))
}
