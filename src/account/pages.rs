//! My Profile (`/account`): the page and its forms. Handlers are thin: the gate, one domain call,
//! render. Without a live session, or with a password step still due, the browser is sent
//! through the sign-in journey first (`console_signin`).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::password::strength_word;
use super::profile::{self, Ending};
use super::AccountError;
use crate::app::AppState;
use crate::error::PageError;
use crate::signin::session;
use crate::store::people::{Membership, Person};
use crate::store::sessions::SessionRecord;
use crate::web::browser::Browser;
use crate::web::client_ip::RequestActor;
use crate::web::render;

pub(crate) struct SignedIn {
    pub(crate) session: SessionRecord,
    pub(crate) person: Person,
}

/// The person behind a live session, if My Profile may be shown to them now: within the
/// shortest idle sign-out of their firms, and with no forced password step pending.
pub(crate) async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<SignedIn>, PageError> {
    let Some(session) = session::current(state, headers).await? else {
        return Ok(None);
    };
    let Some(person) = state.store.person(&session.person_id).await? else {
        return Ok(None);
    };
    let now = state.clock.now();
    if let Some(idle) = state.store.shortest_idle_timeout_for(&person.id).await? {
        if now - session.last_seen_at > idle {
            return Ok(None);
        }
    }
    let policy = state.store.password_policy_for(&person.id).await?;
    let changed_at = person.password_changed_at.unwrap_or(person.created_at);
    let expiry_applies = session.upstream.is_none() && person.password_hash.is_some();
    if person.password_temporary != 0 || (expiry_applies && policy.expired(changed_at, now)) {
        return Ok(None);
    }
    // With MFA on, or required by one of the person's firms, a password-only session is not
    // enough: the journey challenges (or sets it up) first.
    if !crate::oidc::claims::amr_has_mfa(&session.amr)
        && (super::mfa::is_active(state, &person.id).await?
            || super::mfa::required_by_a_firm(state, &person.id)
                .await?
                .is_some())
    {
        return Ok(None);
    }
    state.store.touch_session(&session, now).await?;
    Ok(Some(SignedIn { session, person }))
}

pub(crate) fn to_signin() -> Response {
    render::see_other("/account/signin")
}

struct SessionRow {
    id: String,
    this_browser: bool,
    device: String,
    ip: String,
    started: String,
    last_active: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    csrf: &'a str,
    email: &'a str,
    name: &'a str,
    time_zone: &'a str,
    notice: Option<&'static str>,
    profile_error: Option<String>,
    password_error: Option<String>,
    strength: Option<&'static str>,
    password_changed: String,
    password_due: String,
    sessions: Vec<SessionRow>,
    memberships: Vec<Membership>,
    mfa: MfaSection,
    mfa_error: Option<String>,
    sso: super::sso_links::SsoSection,
    has_password: bool,
}

/// What the two-step sign-in section shows.
struct MfaSection {
    active_since: Option<String>,
    recovery_codes_left: i64,
    /// Why the person cannot turn it off, if something keeps it on.
    kept_on: Option<String>,
}

/// A unix time as the page shows it. (Times are in UTC until firmgate ships a time zone
/// database; the person's own zone is stored for that.)
pub(super) fn when(t: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&format).ok())
        .unwrap_or_default()
}

/// The browser's own description, shortened; it is the person's data, shown back to them.
fn device(user_agent: Option<&str>) -> String {
    match user_agent {
        Some(ua) if !ua.is_empty() => ua.chars().take(120).collect(),
        _ => "Unknown browser".to_owned(),
    }
}

/// Fields a failed form gives back, and the section its message belongs to.
#[derive(Default)]
pub(super) struct Redisplay<'a> {
    pub(super) name: Option<&'a str>,
    pub(super) time_zone: Option<&'a str>,
    pub(super) profile_error: Option<String>,
    pub(super) password_error: Option<String>,
    pub(super) strength: Option<&'static str>,
    pub(super) mfa_error: Option<String>,
}

pub(super) async fn render_page(
    state: &AppState,
    browser: &Browser,
    who: &SignedIn,
    notice: Option<&'static str>,
    redisplay: Redisplay<'_>,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    let person = &who.person;
    let idle = i64::try_from(state.settings.session_idle_timeout.as_secs()).unwrap_or(i64::MAX);
    let sessions = state
        .store
        .live_sessions_of(&person.id, now, idle)
        .await?
        .into_iter()
        .map(|s| SessionRow {
            this_browser: s.id == who.session.id,
            device: device(s.user_agent.as_deref()),
            ip: s.ip.clone().unwrap_or_else(|| "unknown".to_owned()),
            started: when(s.created_at),
            last_active: when(s.last_seen_at),
            id: s.id,
        })
        .collect();
    let policy = state.store.password_policy_for(&person.id).await?;
    let changed_at = person.password_changed_at.unwrap_or(person.created_at);
    let password_due = match policy.change_due_at(changed_at) {
        Some(due) => when(due),
        None => "not required by your firm".to_owned(),
    };
    let factor = state.store.totp_factor(&person.id).await?;
    let mfa = MfaSection {
        active_since: factor.and_then(|f| f.activated_at).map(when),
        recovery_codes_left: state.store.recovery_codes_left(&person.id).await?,
        kept_on: super::mfa::kept_on_because(state, &person.id).await?,
    };
    let status = if redisplay.profile_error.is_some()
        || redisplay.password_error.is_some()
        || redisplay.mfa_error.is_some()
    {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = render::page_with_status(
        status,
        &AccountPage {
            csrf: &browser.csrf_token(),
            email: &person.email,
            name: redisplay.name.unwrap_or(&person.name),
            time_zone: redisplay
                .time_zone
                .unwrap_or_else(|| person.time_zone.as_deref().unwrap_or("UTC")),
            notice,
            profile_error: redisplay.profile_error,
            password_error: redisplay.password_error,
            strength: redisplay.strength,
            password_changed: when(changed_at),
            password_due,
            sessions,
            memberships: state.store.memberships_of(&person.id).await?,
            mfa,
            mfa_error: redisplay.mfa_error,
            sso: super::sso_links::section(state, &person.id).await?,
            has_password: person.password_hash.is_some(),
        },
    );
    Ok(render::with_cookies(page, [browser.set_cookie.clone()]))
}

#[derive(Deserialize)]
pub struct ShowQuery {
    done: Option<String>,
}

/// `GET /account`.
pub async fn show(
    State(state): State<AppState>,
    browser: Browser,
    headers: HeaderMap,
    Query(q): Query<ShowQuery>,
) -> Result<Response, PageError> {
    let Some(who) = signed_in(&state, &headers).await? else {
        return Ok(to_signin());
    };
    // Only fixed messages: the query names one, it never supplies the words.
    let notice = match q.done.as_deref() {
        Some("profile") => Some("Your profile was saved."),
        Some("password") => Some("Your password was changed. We sent you an e-mail about it."),
        Some("sessions") => Some("Those sessions were signed out."),
        Some("mfa-off") => Some("Two-step sign-in is off. We sent you an e-mail about it."),
        Some("sso-linked") => Some("The account was linked. We sent you an e-mail about it."),
        Some("sso-unlinked") => Some("The account was unlinked. We sent you an e-mail about it."),
        _ => None,
    };
    render_page(&state, &browser, &who, notice, Redisplay::default()).await
}

/// `POST /account/profile`: name and time zone.
pub async fn save_profile(
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
    let name = form.get("name").unwrap_or("");
    let time_zone = form.get("time_zone").unwrap_or("");
    match profile::update(&state, &who.person, name, time_zone, &actor).await {
        Ok(()) => Ok(render::see_other("/account?done=profile")),
        Err(e) if e.is_input_problem() => {
            let redisplay = Redisplay {
                name: Some(name),
                time_zone: Some(time_zone),
                profile_error: Some(e.to_string()),
                ..Redisplay::default()
            };
            render_page(&state, &browser, &who, None, redisplay).await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /account/password`: the current password, the new one twice, and whether to sign out
/// every other session.
pub async fn change_password(
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
    let new = form.get("new_password").unwrap_or("");
    let result = super::password::change(
        &state,
        &who.person,
        &who.session.id,
        form.get("current_password").unwrap_or(""),
        new,
        form.get("confirm_password").unwrap_or(""),
        form.get("sign_out_others") == Some("yes"),
        &actor,
    )
    .await;
    match result {
        Ok(_) => Ok(render::see_other("/account?done=password")),
        Err(e) if e.is_input_problem() => {
            let strength = matches!(e, AccountError::Password(_) | AccountError::Reused(_))
                .then(|| strength_word(new, &who.person.email, &who.person.name));
            let redisplay = Redisplay {
                password_error: Some(e.to_string()),
                strength,
                ..Redisplay::default()
            };
            render_page(&state, &browser, &who, None, redisplay).await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /account/sessions`: `end` is a session id, `others` or `all` (sign out everywhere,
/// this browser included).
pub async fn end_sessions(
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
    let which = match form.get("end") {
        Some("all") => Ending::All,
        Some("others") => Ending::Others,
        Some(id) if !id.is_empty() && id.len() <= 64 && id != who.session.id => Ending::One(id),
        _ => {
            return Err(PageError::bad_request(
                "Check the form",
                "Choose which sessions to sign out.",
            ))
        }
    };
    profile::end_sessions(&state, &who.person, &who.session.id, which, &actor).await?;
    if which == Ending::All {
        return Ok(crate::oidc::logout::signed_out(&state));
    }
    Ok(render::see_other("/account?done=sessions"))
}
