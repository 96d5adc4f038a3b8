//! Enforced single sign-on. A firm that requires Microsoft or Google sign-in refuses the password
//! form for its people (after a correct password, so the refusal reveals nothing to someone who
//! does not know it), and a password session reaching such a firm's sign-in stops at
//! `Step::SsoRequired`, which points to the upstream buttons. Exempted people (a break-glass
//! admin) still sign in with a password.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::journey::{visit, AtStep, Visit};
use super::login::InteractionQuery;
use crate::app::AppState;
use crate::error::PageError;
use crate::signin::flow::Step;
use crate::store::StoreResult;
use crate::web::browser::Browser;
use crate::web::render;

/// How a provider is named on the pages.
pub fn provider_label(provider: &str) -> &'static str {
    match provider {
        "microsoft" => "Microsoft",
        "google" => "Google",
        _ => "your firm's single sign-on",
    }
}

/// "Microsoft", "Google" or "Microsoft or Google".
pub fn providers_phrase(providers: &[&str]) -> String {
    providers
        .iter()
        .map(|p| provider_label(p))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Whether the password form must refuse this person: every firm the sign-in may be for
/// requires SSO of them. Returns the firm's name and the accepted upstreams.
pub async fn password_refused(
    state: &AppState,
    person_id: &str,
    client_firm: Option<&str>,
) -> StoreResult<Option<(String, &'static [&'static str])>> {
    let memberships = state.store.memberships_of(person_id).await?;
    let relevant: Vec<_> = memberships
        .iter()
        .filter(|m| client_firm.is_none_or(|f| f == m.firm_id))
        .collect();
    let mut first = None;
    for m in &relevant {
        let policy = state
            .store
            .firm_policy(&m.firm_id)
            .await?
            .unwrap_or_default();
        let standing = state.store.standing(&m.firm_id, person_id).await?;
        let required = policy.verdict(standing, None, 0).sso_required;
        if required.is_empty() {
            return Ok(None);
        }
        first.get_or_insert((m.firm_name.clone(), required));
    }
    Ok(first)
}

#[derive(Template)]
#[template(path = "sso_required.html")]
struct SsoRequiredPage<'a> {
    firm_name: &'a str,
    providers: String,
    csrf: &'a str,
    interaction: &'a str,
    /// (name, label) of the accepted upstreams that are configured here.
    buttons: Vec<(String, String)>,
}

pub async fn show(
    State(state): State<AppState>,
    browser: Browser,
    headers: HeaderMap,
    Query(q): Query<InteractionQuery>,
) -> Result<Response, PageError> {
    let AtStep {
        assessment,
        interaction,
        ..
    } = match visit(
        &state,
        &browser,
        &headers,
        q.interaction.as_deref(),
        Step::SsoRequired(&[]),
    )
    .await?
    {
        Visit::Here(here) => *here,
        Visit::Elsewhere(res) => return Ok(res),
    };
    let Step::SsoRequired(providers) = assessment.step else {
        return Err(PageError::internal());
    };
    let page = render::page(&SsoRequiredPage {
        firm_name: assessment
            .firm
            .as_ref()
            .map_or("Your firm", |f| f.firm_name.as_str()),
        providers: providers_phrase(providers),
        csrf: &browser.csrf_token(),
        interaction: interaction.id(),
        buttons: state
            .upstreams
            .buttons()
            .into_iter()
            .filter(|(name, _)| {
                providers.contains(&name.as_str())
                    || (providers.len() > 1
                        && crate::policy::sso::UpstreamKind::of(name)
                            == crate::policy::sso::UpstreamKind::Generic)
            })
            .collect(),
    });
    Ok(render::with_cookies(page, [browser.set_cookie.clone()]))
}
