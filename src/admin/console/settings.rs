//! "Authentication settings": every firm policy on one form. Saving goes through
//! `admin::firms::set_policy`, the function `firmgate firm policy` uses: the same checks, one
//! invalid value changes nothing, every change audited with this admin as the actor.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{gate, AdminVisit, Gate};
use crate::admin::firms::{set_policy, PolicyChange};
use crate::app::AppState;
use crate::error::PageError;
use crate::store::firms::{ExemptFrom, Firm};
use crate::web::browser::Browser;
use crate::web::client_ip::RequestActor;
use crate::web::render;

#[derive(Template)]
#[template(path = "admin_settings.html")]
struct SettingsPage<'a> {
    firm_id: &'a str,
    has_logo: bool,
    firm_name: &'a str,
    role: &'a str,
    csrf: &'a str,
    notice: Option<&'a str>,
    error: Option<String>,
    form: SettingsForm,
}

/// The form's values, as stored or as submitted.
struct SettingsForm {
    mfa: String,
    require_sso: String,
    ip_allow: String,
    sign_in_hours: String,
    time_zone: String,
    idle_timeout: String,
    max_session_age: String,
    password_min_length: String,
    password_max_age: String,
    password_reuse_limit: String,
    password_composition: bool,
    mfa_exempt: String,
    sso_exempt: String,
    microsoft_tenants: String,
    google_domains: String,
    oidc_upstreams: String,
    email_domains: String,
    trust_upstream_mfa: String,
    sso_join: bool,
    display_name: String,
}

fn duration_text(secs: i64) -> String {
    humantime::format_duration(std::time::Duration::from_secs(
        u64::try_from(secs).unwrap_or(0),
    ))
    .to_string()
}

async fn stored(state: &AppState, firm: &Firm) -> Result<SettingsForm, PageError> {
    Ok(SettingsForm {
        mfa: firm.mfa_mode.clone(),
        require_sso: firm.sso_mode.clone(),
        ip_allow: firm.ip_allow.replace(',', ", "),
        sign_in_hours: firm.signin_hours.clone(),
        time_zone: firm.time_zone.clone(),
        idle_timeout: duration_text(firm.idle_timeout_secs),
        max_session_age: duration_text(firm.max_session_age_secs),
        password_min_length: firm.password_min_length.to_string(),
        password_max_age: firm.password_max_age_days.to_string(),
        password_reuse_limit: firm.password_reuse_limit.to_string(),
        password_composition: firm.password_composition != 0,
        mfa_exempt: state
            .store
            .exempted(&firm.id, ExemptFrom::Mfa)
            .await?
            .join("\n"),
        sso_exempt: state
            .store
            .exempted(&firm.id, ExemptFrom::Sso)
            .await?
            .join("\n"),
        microsoft_tenants: firm.microsoft_tenants.replace(',', ", "),
        google_domains: firm.google_domains.replace(',', ", "),
        oidc_upstreams: firm.oidc_upstreams.replace(',', ", "),
        email_domains: firm.email_domains.replace(',', ", "),
        trust_upstream_mfa: firm.upstream_mfa.replace(',', ", "),
        sso_join: firm.sso_join != 0,
        display_name: firm.display_name.clone(),
    })
}

fn page(
    browser: &Browser,
    firm: &Firm,
    visit: &AdminVisit,
    form: SettingsForm,
    notice: Option<&str>,
    error: Option<String>,
) -> Response {
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let res = render::page_with_status(
        status,
        &SettingsPage {
            firm_id: &firm.id,
            has_logo: !firm.logo_type.is_empty(),
            firm_name: &firm.name,
            role: &visit.membership.role,
            csrf: &browser.csrf_token(),
            notice,
            error,
            form,
        },
    );
    render::with_cookies(res, [browser.set_cookie.clone()])
}

async fn load(
    state: &AppState,
    headers: &HeaderMap,
    actor: &crate::audit::Actor,
    firm_id: &str,
) -> Result<Result<(Box<AdminVisit>, Firm), Response>, PageError> {
    let visit = match gate(state, headers, actor, firm_id, "settings").await? {
        Gate::Pass(v) => v,
        Gate::SignIn(res) => return Ok(Err(res)),
    };
    let firm = state
        .store
        .firm(firm_id)
        .await?
        .ok_or_else(PageError::not_found)?;
    Ok(Ok((visit, firm)))
}

pub async fn show(
    State(state): State<AppState>,
    browser: Browser,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    Path(firm_id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Result<Response, PageError> {
    let (visit, firm) = match load(&state, &headers, &actor, &firm_id).await? {
        Ok(v) => v,
        Err(res) => return Ok(res),
    };
    let notice = (q.get("saved").map(String::as_str) == Some("1")).then_some("Saved.");
    let form = stored(&state, &firm).await?;
    Ok(page(&browser, &firm, &visit, form, notice, None))
}

fn emails(text: &str) -> Vec<String> {
    text.split(['\n', ',', ';'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_lowercase)
        .collect()
}

pub async fn save(
    State(state): State<AppState>,
    browser: Browser,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    Path(firm_id): Path<String>,
    body: String,
) -> Result<Response, PageError> {
    let params = browser.csrf_form(&body)?;
    let (visit, firm) = match load(&state, &headers, &actor, &firm_id).await? {
        Ok(v) => v,
        Err(res) => return Ok(res),
    };
    let field = |name: &str| params.get(name).unwrap_or("").trim().to_owned();
    let submitted = SettingsForm {
        mfa: field("mfa"),
        require_sso: field("require_sso"),
        ip_allow: field("ip_allow"),
        sign_in_hours: field("sign_in_hours"),
        time_zone: field("time_zone"),
        idle_timeout: field("idle_timeout"),
        max_session_age: field("max_session_age"),
        password_min_length: field("password_min_length"),
        password_max_age: field("password_max_age"),
        password_reuse_limit: field("password_reuse_limit"),
        password_composition: params.get("password_composition") == Some("on"),
        mfa_exempt: field("mfa_exempt"),
        microsoft_tenants: field("microsoft_tenants"),
        google_domains: field("google_domains"),
        oidc_upstreams: field("oidc_upstreams"),
        email_domains: field("email_domains"),
        trust_upstream_mfa: field("trust_upstream_mfa"),
        sso_join: params.get("sso_join") == Some("on"),
        display_name: field("display_name"),
        sso_exempt: field("sso_exempt"),
    };
    let change = match to_change(&state, &firm, &submitted).await {
        Ok(c) => c,
        Err(e) => return Ok(page(&browser, &firm, &visit, submitted, None, Some(e))),
    };
    // Checked before anything is stored: one bad value changes nothing.
    if let Err(crate::admin::AdminError::Invalid(why)) =
        crate::admin::branding::check_display_name(&submitted.display_name)
    {
        return Ok(page(&browser, &firm, &visit, submitted, None, Some(why)));
    }
    let branding = crate::admin::branding::BrandingChange {
        display_name: Some(submitted.display_name.clone()),
        logo: None,
    };
    let saved = match set_policy(&state, &firm.id, &change, &actor).await {
        Ok(_) => crate::admin::branding::set_branding(&state, &firm.id, &branding, &actor).await,
        Err(e) => Err(e),
    };
    match saved {
        Ok(()) => Ok(render::see_other(&format!(
            "/admin/firms/{}/settings?saved=1",
            firm.id
        ))),
        Err(crate::admin::AdminError::Invalid(why)) => {
            Ok(page(&browser, &firm, &visit, submitted, None, Some(why)))
        }
        Err(e) => Err(match e {
            crate::admin::AdminError::Store(s) => s.into(),
            _ => PageError::internal(),
        }),
    }
}

/// The form as a policy change: numbers and durations parsed, exemption lists turned into
/// additions and removals against what is stored.
async fn to_change(
    state: &AppState,
    firm: &Firm,
    f: &SettingsForm,
) -> Result<PolicyChange, String> {
    let number = |label: &str, text: &str| -> Result<i64, String> {
        text.parse::<i64>()
            .map_err(|_| format!("{label}: enter a whole number"))
    };
    let duration = |label: &str, text: &str| -> Result<i64, String> {
        humantime::parse_duration(text)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .map_err(|_| format!("{label}: enter a duration such as 30m or 8h"))
    };
    let mut exemptions = Vec::new();
    for (rule, text) in [
        (ExemptFrom::Mfa, &f.mfa_exempt),
        (ExemptFrom::Sso, &f.sso_exempt),
    ] {
        let now: Vec<String> = state
            .store
            .exempted(&firm.id, rule)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|e| e.to_lowercase())
            .collect();
        let wanted = emails(text);
        for e in wanted.iter().filter(|e| !now.contains(e)) {
            exemptions.push((rule, e.clone(), true));
        }
        for e in now.iter().filter(|e| !wanted.contains(e)) {
            exemptions.push((rule, e.clone(), false));
        }
    }
    Ok(PolicyChange {
        idle_timeout_secs: Some(duration("Idle sign-out", &f.idle_timeout)?),
        max_session_age_secs: Some(duration("Maximum session age", &f.max_session_age)?),
        password_min_length: Some(number("Minimum password length", &f.password_min_length)?),
        password_max_age_days: Some(number("Password expiry", &f.password_max_age)?),
        password_reuse_limit: Some(number("Password reuse limit", &f.password_reuse_limit)?),
        password_composition: Some(f.password_composition),
        mfa: Some(f.mfa.clone()),
        sso: Some(f.require_sso.clone()),
        ip_allow: Some(f.ip_allow.clone()),
        sign_in_hours: Some(f.sign_in_hours.clone()),
        time_zone: Some(f.time_zone.clone()),
        microsoft_tenants: Some(f.microsoft_tenants.clone()),
        google_domains: Some(f.google_domains.clone()),
        oidc_upstreams: Some(f.oidc_upstreams.clone()),
        email_domains: Some(f.email_domains.clone()),
        upstream_mfa: Some(f.trust_upstream_mfa.clone()),
        sso_join: Some(f.sso_join),
        exemptions,
    })
}

/// `POST /admin/firms/{firm}/logo` (multipart: `csrf`, and `logo` a PNG or JPEG file, or
/// `remove=1`).
pub async fn upload_logo(
    State(state): State<AppState>,
    browser: Browser,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    Path(firm_id): Path<String>,
    mut multipart: axum::extract::Multipart,
) -> Result<Response, PageError> {
    let unreadable = || PageError::bad_request("Invalid upload", "The upload could not be read.");
    let mut csrf = None;
    let mut logo: Option<Vec<u8>> = None;
    let mut remove = false;
    while let Some(field) = multipart.next_field().await.map_err(|_| unreadable())? {
        match field.name() {
            Some("csrf") if csrf.is_none() => {
                csrf = Some(field.text().await.map_err(|_| unreadable())?)
            }
            Some("logo") if logo.is_none() => {
                logo = Some(field.bytes().await.map_err(|_| unreadable())?.to_vec())
            }
            Some("remove") => remove = true,
            _ => return Err(unreadable()),
        }
    }
    if !browser.csrf_ok(csrf.as_deref()) {
        return Err(PageError::csrf());
    }
    let (visit, firm) = match load(&state, &headers, &actor, &firm_id).await? {
        Ok(v) => v,
        Err(res) => return Ok(res),
    };
    let change = crate::admin::branding::BrandingChange {
        display_name: None,
        logo: Some(if remove {
            None
        } else {
            logo.filter(|l| !l.is_empty())
        }),
    };
    if !remove && change.logo == Some(None) {
        let form = stored(&state, &firm).await?;
        let why = "Choose a PNG or JPEG file for the logo.".to_owned();
        return Ok(page(&browser, &firm, &visit, form, None, Some(why)));
    }
    match crate::admin::branding::set_branding(&state, &firm.id, &change, &actor).await {
        Ok(()) => Ok(render::see_other(&format!(
            "/admin/firms/{}/settings?saved=1",
            firm.id
        ))),
        Err(crate::admin::AdminError::Invalid(why)) => {
            let form = stored(&state, &firm).await?;
            Ok(page(&browser, &firm, &visit, form, None, Some(why)))
        }
        Err(crate::admin::AdminError::Store(s)) => Err(s.into()),
        Err(_) => Err(PageError::internal()),
    }
}
