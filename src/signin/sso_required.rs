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
use crate::store::sign_in_facts::SignInFacts;
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
/// requires SSO of them. Returns the firm's name and the accepted upstreams. Decided from the
/// facts the sign-in reads anyway (memberships by firm name, each firm's settings and what it
/// exempts the person from).
pub fn password_refused(
    facts: &SignInFacts,
    client_firm: Option<&str>,
) -> StoreResult<Option<(String, &'static [&'static str])>> {
    let relevant = facts
        .members
        .iter()
        .filter(|m| client_firm.is_none_or(|f| f == m.membership.firm_id));
    let mut first = None;
    for m in relevant {
        let required = m.firm.policy()?.verdict(m.standing, None, 0).sso_required;
        if required.is_empty() {
            return Ok(None);
        }
        first.get_or_insert((m.membership.firm_name.clone(), required));
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
