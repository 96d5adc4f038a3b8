//! "Sign in with Microsoft / Google": the button's POST starts an upstream round trip bound to
//! this browser and interaction; `/sso/{provider}/callback` finishes it. A failed round trip
//! shows a page saying what went wrong, creates no session and is audited. A good one finds the
//! person (`federation::people::resolve`), starts a session with `amr` `fed` (plus `mfa` where
//! every firm of the person trusts the upstream's MFA), and hands over to the journey, which
//! still decides everything else (firmgate's own MFA challenge, policy, consent).

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::interaction;
use super::journey::continue_journey;
use super::session;
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent};
use crate::error::PageError;
use crate::federation::people::{self, SsoPeopleError};
use crate::federation::round_trip::{self, Callback, Purpose, RoundTripError};
use crate::federation::{linking::Refusal, FederationError, UpstreamIdentity};
use crate::oidc::claims::{AMR_FEDERATED, AMR_FEDERATED_MFA};
use crate::store::sessions::UpstreamSignIn;
use crate::store::sso::{StateRefusal, UpstreamLogin};
use crate::web::browser::Browser;
use crate::web::client_ip::RequestActor;
use crate::web::params::Params;
use crate::web::render;

#[derive(Template)]
#[template(path = "sso_failed.html")]
struct FailedPage<'a> {
    title: &'a str,
    message: &'a str,
    /// Where "Try again" goes (the sign-in page of the interaction, or My Profile).
    again: Option<String>,
}

/// A failure page for a round trip, with its status.
pub(crate) fn failed_page(
    status: StatusCode,
    title: &str,
    message: &str,
    again: Option<String>,
) -> Response {
    render::page_with_status(
        status,
        &FailedPage {
            title,
            message,
            again,
        },
    )
}

/// POST `/sso/{provider}/start` from the sign-in page.
pub async fn start(
    State(state): State<AppState>,
    browser: Browser,
    RequestActor(actor): RequestActor,
    Path(provider): Path<String>,
    body: String,
) -> Result<Response, PageError> {
    let form = browser.csrf_form(&body)?;
    let i = interaction::load(&state, &browser, form.get("interaction")).await?;
    if state.upstreams.get(&provider).is_none() {
        return Err(PageError::not_found());
    }
    let hint = form
        .get("email")
        .or(i.request.login_hint.as_deref())
        .map(str::trim);
    match round_trip::begin(
        &state,
        &provider,
        Purpose::SignIn,
        &browser.binding_hash(),
        Some(i.id()),
        None,
        hint,
    )
    .await
    {
        Ok(url) => Ok(render::with_cookies(
            render::see_other(url.as_str()),
            [browser.set_cookie.clone()],
        )),
        Err(e) => {
            let again = Some(format!("/signin/login?interaction={}", i.id()));
            Ok(failure(&state, &actor, &provider, "signin", None, &e.into(), again).await?)
        }
    }
}

/// Everything that can end a callback, for the page and the audit trail.
pub(crate) enum CallbackFailure {
    RoundTrip(RoundTripError),
    People(SsoPeopleError),
}

impl From<RoundTripError> for CallbackFailure {
    fn from(e: RoundTripError) -> Self {
        CallbackFailure::RoundTrip(e)
    }
}

impl From<SsoPeopleError> for CallbackFailure {
    fn from(e: SsoPeopleError) -> Self {
        CallbackFailure::People(e)
    }
}

impl CallbackFailure {
    fn reason(&self) -> &'static str {
        match self {
            CallbackFailure::RoundTrip(e) => e.reason(),
            CallbackFailure::People(e) => e.reason(),
        }
    }

    fn internal(&self) -> bool {
        self.reason() == "internal"
    }

    /// (status, title, message) for the person.
    fn words(&self, label: &str) -> (StatusCode, String, String) {
        let bad = StatusCode::BAD_REQUEST;
        let forbidden = StatusCode::FORBIDDEN;
        let gateway = StatusCode::BAD_GATEWAY;
        let start_again = "Go back to the sign-in page and start again.";
        match self {
            CallbackFailure::RoundTrip(e) => match e {
                RoundTripError::State(StateRefusal::Replayed) => (bad, "This sign-in link was already used".into(), format!("The answer from {label} was already used once and cannot be used again. {start_again}")),
                RoundTripError::State(StateRefusal::Expired) => (bad, "This sign-in took too long".into(), format!("The answer from {label} came back after the sign-in had expired. {start_again}")),
                RoundTripError::State(StateRefusal::ForeignBrowser) => (bad, "Sign-in started in another browser".into(), format!("This answer from {label} belongs to a sign-in started in another browser. Start again in the browser you are using.")),
                RoundTripError::State(StateRefusal::Unknown) => (bad, "Sign-in could not be completed".into(), format!("This answer from {label} does not belong to a sign-in firmgate started. {start_again}")),
                RoundTripError::ProviderMismatch => (bad, "Sign-in could not be completed".into(), format!("This answer came back to {label}, but the sign-in was started with another provider. {start_again}")),
                RoundTripError::Denied(code) => (forbidden, format!("{label} did not sign you in"), format!("{label} answered \"{code}\". {start_again}")),
                RoundTripError::UnknownProvider(_) => (StatusCode::NOT_FOUND, "Unknown sign-in provider".into(), "firmgate has no single sign-on provider by that name.".into()),
                RoundTripError::Federation(FederationError::Unreachable { .. }) => (gateway, format!("{label} could not be reached"), format!("firmgate could not talk to {label} just now. Try again in a moment.")),
                RoundTripError::Federation(FederationError::Upstream { code, .. }) => (gateway, format!("{label} refused the sign-in"), format!("{label} answered \"{code}\" when firmgate redeemed the sign-in. {start_again}")),
                RoundTripError::Federation(FederationError::BadCallback) => (bad, "Sign-in could not be completed".into(), format!("The answer from {label} was incomplete or named another issuer. {start_again}")),
                RoundTripError::Federation(FederationError::TokenRejected(_)) => (forbidden, "Sign-in could not be verified".into(), format!("firmgate could not verify the sign-in {label} sent. {start_again}")),
                RoundTripError::Federation(FederationError::WrongRealm(_)) => (forbidden, "This account cannot be used here".into(), format!("This {label} account does not belong to an organisation firmgate can accept.")),
                RoundTripError::Store(_) | RoundTripError::Seal => (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong".into(), "firmgate could not complete this request.".into()),
            },
            CallbackFailure::People(e) => match e {
                SsoPeopleError::Refused(Refusal::NotLinked) => (forbidden, format!("This {label} account is not linked yet"), format!("firmgate cannot tell which account this {label} account belongs to. Sign in with your email and password, then link your {label} account on My Profile. If you have no password, ask your firm's administrator.")),
                SsoPeopleError::Refused(Refusal::Ambiguous) => (forbidden, format!("This {label} account is not linked yet"), "Several firms could be meant. Sign in from your firm's application, or ask your firm's administrator to invite you.".into()),
                SsoPeopleError::FirmRefuses => (forbidden, "Your firm does not accept this account".into(), format!("Your firm does not accept sign-in with this {label} account (its organisation or domain is not one your firm lists). Use your firm's own {label} account, or ask your firm's administrator.")),
                SsoPeopleError::AlreadyYours => (bad, "Already linked".into(), format!("This {label} account is already linked to your firmgate account.")),
                SsoPeopleError::LinkedElsewhere => (forbidden, "Linked to someone else".into(), format!("This {label} account is linked to another firmgate account, so it cannot be linked to yours.")),
                                SsoPeopleError::NoSuchLink => (StatusCode::NOT_FOUND, "No such linked account".into(), "That linked account does not exist.".into()),
                SsoPeopleError::SessionChanged => (forbidden, "Sign in again".into(), "You are no longer signed in as the person who started linking this account. Sign in and link it again from My Profile.".into()),
                SsoPeopleError::OnlyWayIn { firm_name } => (forbidden, "Cannot unlink".into(), format!("{firm_name} requires single sign-on, and this is the only account it accepts from you.")),
                SsoPeopleError::Store(_) | SsoPeopleError::Mail(_) => (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong".into(), "firmgate could not complete this request.".into()),
            },
        }
    }
}

/// Audits a failed round trip and shows what went wrong.
pub(crate) async fn failure(
    state: &AppState,
    actor: &Actor,
    provider: &str,
    purpose: &str,
    person_id: Option<&str>,
    failure: &CallbackFailure,
    again: Option<String>,
) -> Result<Response, PageError> {
    if failure.internal() {
        tracing::error!(
            provider,
            reason = failure.reason(),
            "single sign-on failed inside firmgate"
        );
    } else {
        tracing::info!(
            provider,
            reason = failure.reason(),
            "single sign-on refused"
        );
    }
    if let CallbackFailure::RoundTrip(RoundTripError::Federation(f)) = failure {
        // The detail helps the operator (which check failed); it holds no code or token.
        tracing::info!(provider, detail = %f, "upstream detail");
    }
    audit::record(
        &state.store,
        AuditEvent::SsoFailed {
            person_id,
            provider: &provider.chars().take(32).collect::<String>(),
            purpose,
            reason: failure.reason(),
        },
        actor,
        state.clock.now(),
    )
    .await?;
    let (status, title, message) = failure.words(&state.upstreams.label_of(provider));
    Ok(failed_page(status, &title, &message, again))
}

/// GET `/sso/{provider}/callback`.
pub async fn callback(
    State(state): State<AppState>,
    browser: Browser,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    Path(provider): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    if state.upstreams.get(&provider).is_none() {
        return Err(PageError::not_found());
    }
    let params = Params::parse(query.as_deref().unwrap_or("")).map_err(|_| {
        PageError::bad_request("Invalid sign-in answer", "The answer had too many fields.")
    })?;
    // A parameter sent twice is ambiguous: refuse rather than pick one.
    if let Some(dup) = params.first_duplicate() {
        return Err(PageError::bad_request(
            "Invalid sign-in answer",
            format!("The answer carried {dup:?} more than once."),
        ));
    }
    let cb = Callback {
        state: params.get("state"),
        code: params.get("code"),
        iss: params.get("iss"),
        error: params.get("error"),
    };
    let (login, result) =
        round_trip::complete(&state, &provider, &browser.binding_hash(), &cb).await;
    let purpose: &'static str = match login.as_ref().map(|l| l.purpose.as_str()) {
        Some("link") => "link",
        Some(_) => "signin",
        None => "unknown",
    };
    let again = match &login {
        Some(l) if l.purpose == "link" => Some("/account".to_owned()),
        Some(l) => l
            .interaction_id
            .as_ref()
            .map(|i| format!("/signin/login?interaction={i}")),
        None => None,
    };
    let person = login.as_ref().and_then(|l| l.person_id.clone());
    let identity = match result {
        Ok(identity) => identity,
        Err(e) => {
            return failure(
                &state,
                &actor,
                &provider,
                purpose,
                person.as_deref(),
                &e.into(),
                again,
            )
            .await
        }
    };
    let Some(login) = login else {
        return Err(PageError::internal());
    };
    let outcome = if login.purpose == "link" {
        crate::account::sso_links::finish_link(&state, &headers, &login, &identity, &actor).await
    } else {
        finish_sign_in(&state, &browser, &headers, &login, &identity, &actor).await
    };
    match outcome {
        Ok(res) => Ok(res),
        Err(Finish::Page(e)) => Err(e),
        Err(Finish::Refused(e)) => {
            failure(
                &state,
                &actor,
                &provider,
                purpose,
                person.as_deref(),
                &e,
                again,
            )
            .await
        }
    }
}

pub(crate) enum Finish {
    Page(PageError),
    Refused(CallbackFailure),
}

impl From<PageError> for Finish {
    fn from(e: PageError) -> Self {
        Finish::Page(e)
    }
}

impl From<crate::store::StoreError> for Finish {
    fn from(e: crate::store::StoreError) -> Self {
        Finish::Page(e.into())
    }
}

impl From<SsoPeopleError> for Finish {
    fn from(e: SsoPeopleError) -> Self {
        match e {
            SsoPeopleError::Store(s) => Finish::Page(s.into()),
            other => Finish::Refused(other.into()),
        }
    }
}

async fn finish_sign_in(
    state: &AppState,
    browser: &Browser,
    headers: &HeaderMap,
    login: &UpstreamLogin,
    identity: &UpstreamIdentity,
    actor: &Actor,
) -> Result<Response, Finish> {
    let i = interaction::load(state, browser, login.interaction_id.as_deref()).await?;
    let client = state
        .store
        .client(&i.request.client_id)
        .await?
        .ok_or_else(PageError::expired)?;
    let who = people::resolve(state, identity, client.firm_id.as_deref(), actor).await?;
    let amr = if people::upstream_mfa_counts(state, &who.person_id, identity).await? {
        AMR_FEDERATED_MFA
    } else {
        AMR_FEDERATED
    };
    let upstream_amr = identity.amr.join(" ");
    let previous = session::current(state, headers).await?;
    let (session, cookie) = session::establish(
        state,
        previous.as_ref(),
        &who.person_id,
        amr,
        Some(UpstreamSignIn {
            provider: &identity.provider,
            realm: identity.realm.as_deref(),
            amr: &upstream_amr,
        }),
        actor,
    )
    .await?;
    state
        .store
        .set_interaction_session(i.id(), &session.id)
        .await?;
    audit::record(
        &state.store,
        AuditEvent::SsoSignIn {
            person_id: &who.person_id,
            provider: &identity.provider,
            realm: identity.realm.as_deref(),
            client_id: Some(&client.id),
            firm_id: client.firm_id.as_deref(),
        },
        actor,
        state.clock.now(),
    )
    .await?;
    let mut i = i;
    i.record.authenticated_session_id = Some(session.id.clone());
    let res = continue_journey(state, browser, i, Some(&session), None).await;
    Ok(render::with_cookies(
        res.into_response(),
        [cookie, browser.set_cookie.clone()],
    ))
}
