//! My Profile's "Single sign-on" section: the person's linked Microsoft, Google or other
//! upstream accounts, linking one (an upstream round trip bound to this person, this browser and
//! this session) and unlinking one (refused when it is the only way into a firm that requires
//! single sign-on). The rules are `federation::people`'s.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::pages::{signed_in, to_signin, when};
use crate::app::AppState;
use crate::audit::Actor;
use crate::error::PageError;
use crate::federation::people;
use crate::federation::round_trip::{self, Purpose};
use crate::federation::UpstreamIdentity;
use crate::signin::session;
use crate::signin::sso::{failure, CallbackFailure, Finish};
use crate::store::sso::UpstreamLogin;
use crate::web::browser::Browser;
use crate::web::client_ip::RequestActor;
use crate::web::render;

pub struct LinkRow {
    pub id: String,
    pub label: String,
    pub account: String,
    pub realm: Option<String>,
    pub linked: String,
    pub last_used: Option<String>,
}

pub struct SsoSection {
    /// Shown when an upstream is configured or the person has links.
    pub shown: bool,
    pub links: Vec<LinkRow>,
    /// (name, label) of the upstreams one can link.
    pub providers: Vec<(String, String)>,
}

pub async fn section(state: &AppState, person_id: &str) -> Result<SsoSection, PageError> {
    let links: Vec<LinkRow> = state
        .store
        .sso_identities_of(person_id)
        .await?
        .into_iter()
        .map(|l| LinkRow {
            label: state.upstreams.label_of(&l.provider),
            account: l.email.clone().unwrap_or_else(|| "account".to_owned()),
            realm: l.realm.clone(),
            linked: when(l.created_at),
            last_used: l.last_used_at.map(when),
            id: l.id,
        })
        .collect();
    let providers = state.upstreams.buttons();
    Ok(SsoSection {
        shown: !providers.is_empty() || !links.is_empty(),
        links,
        providers,
    })
}

/// `POST /account/sso/link`: off to the upstream.
pub async fn start_link(
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
    let provider = form.get("provider").unwrap_or("");
    if state.upstreams.get(provider).is_none() {
        return Err(PageError::bad_request(
            "Unknown sign-in provider",
            "firmgate has no single sign-on provider by that name.",
        ));
    }
    match round_trip::begin(
        &state,
        provider,
        Purpose::Link,
        &browser.binding_hash(),
        None,
        Some(&who.person.id),
        Some(&who.person.email),
    )
    .await
    {
        Ok(url) => Ok(render::with_cookies(
            render::see_other(url.as_str()),
            [browser.set_cookie.clone()],
        )),
        Err(e) => {
            failure(
                &state,
                &actor,
                provider,
                "link",
                Some(&who.person.id),
                &e.into(),
                Some("/account".into()),
            )
            .await
        }
    }
}

/// The callback of a link round trip: the browser must still be signed in as the person who
/// started it (SECURITY.md 96: the proof is bound to that person and used once).
pub(crate) async fn finish_link(
    state: &AppState,
    headers: &HeaderMap,
    login: &UpstreamLogin,
    identity: &UpstreamIdentity,
    actor: &Actor,
) -> Result<Response, Finish> {
    let current = session::current(state, headers).await?;
    let same_person = current
        .as_ref()
        .zip(login.person_id.as_deref())
        .is_some_and(|(s, p)| s.person_id == p);
    if !same_person {
        return Err(Finish::Refused(CallbackFailure::People(
            people::SsoPeopleError::SessionChanged,
        )));
    }
    let person_id = login.person_id.as_deref().unwrap_or_default();
    people::link_from_profile(state, person_id, identity, actor).await?;
    Ok(render::see_other("/account?done=sso-linked#sso"))
}

/// `POST /account/sso/unlink`.
pub async fn unlink(
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
    let link = form.get("link").unwrap_or("");
    match people::unlink(&state, &who.person.id, link, &actor).await {
        Ok(_) => Ok(render::see_other("/account?done=sso-unlinked#sso")),
        Err(people::SsoPeopleError::Store(e)) => Err(e.into()),
        Err(e) => {
            let provider = state
                .store
                .sso_identities_of(&who.person.id)
                .await?
                .into_iter()
                .find(|l| l.id == link)
                .map_or_else(|| "unknown".to_owned(), |l| l.provider);
            failure(
                &state,
                &actor,
                &provider,
                "unlink",
                Some(&who.person.id),
                &CallbackFailure::People(e),
                Some("/account#sso".into()),
            )
            .await
        }
    }
}
