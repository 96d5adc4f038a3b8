//! The authorization request (OIDC Core §3.1.2.1, RFC 6749 §4.1.1, RFC 7636), validated once
//! into an [`AuthorizationRequest`]. The checks are a visible list of small named functions.
//! Until `client_id` and `redirect_uri` are known good, failures are shown as an error page and
//! never redirected (RFC 6749 §4.1.2.1, RFC 9700 §4.11.2); after that they go back to the client.

use serde::{Deserialize, Serialize};

use crate::clock::UnixTime;
use crate::crypto::jwt;
use crate::crypto::keys::KeySet;
use crate::signin::flow::Prompt;
use crate::store::clients::ClientRecord;
use crate::web::params::Params;

/// Scopes firmgate understands; others are ignored (RFC 6749 §3.3 lets the AS narrow them).
/// `firmgate:admin` authorises the admin JSON API; it is granted only to an admin or owner of the
/// firm who signed in with a second factor (dropped otherwise, RFC 6749 §3.3).
pub const ADMIN_SCOPE: &str = "firmgate:admin";
pub const SUPPORTED_SCOPES: [&str; 5] =
    ["openid", "profile", "email", "offline_access", ADMIN_SCOPE];
pub const MAX_STATE_LEN: usize = 2048;
pub const MAX_NONCE_LEN: usize = 512;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    Query,
    FormPost,
}

/// A validated authorization request, stored with its interaction.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub response_mode: ResponseMode,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub prompt_none: bool,
    pub prompt_login: bool,
    pub prompt_consent: bool,
    pub max_age: Option<i64>,
    pub code_challenge: Option<String>,
    pub login_hint: Option<String>,
    /// `sub` of a verified `id_token_hint`.
    pub hinted_sub: Option<String>,
    pub acr_values: Vec<String>,
    /// The `claims` parameter, validated JSON (OIDC Core §5.5).
    pub claims: Option<String>,
    /// firmgate's `firm` parameter: preselects the firm for a person in several (ignored when
    /// they are not a member).
    #[serde(default)]
    pub firm: Option<String>,
}

impl AuthorizationRequest {
    pub fn prompt(&self) -> Prompt {
        Prompt {
            none: self.prompt_none,
            login: self.prompt_login,
            consent: self.prompt_consent,
        }
    }
    pub fn scope_string(&self) -> String {
        self.scopes.join(" ")
    }
    pub fn wants_offline(&self) -> bool {
        self.scopes.iter().any(|s| s == "offline_access")
    }
    /// The relying party asks for a second factor (the MFA `acr`).
    pub fn wants_mfa(&self) -> bool {
        crate::oidc::claims::mfa_requested(&self.acr_values, self.claims.as_deref())
    }
}

/// Where an error goes: a page at firmgate, or back to the validated redirect_uri.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// Shown at firmgate; never redirected.
    Page {
        title: &'static str,
        message: String,
    },
    /// Sent to the client's redirect_uri.
    Redirect {
        target: ErrorTarget,
        code: &'static str,
        description: String,
    },
}

/// Enough of the request to send an error back to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorTarget {
    pub redirect_uri: String,
    pub response_mode: ResponseMode,
    pub state: Option<String>,
}

fn page(title: &'static str, message: impl Into<String>) -> RequestError {
    RequestError::Page {
        title,
        message: message.into(),
    }
}

/// Phase 1: `client_id`. Unknown or repeated is an error page.
pub fn check_client_id(params: &Params) -> Result<&str, RequestError> {
    if params.is_duplicated("client_id") {
        return Err(page(
            "Invalid request",
            "The client_id parameter was sent more than once.",
        ));
    }
    params.get("client_id").ok_or_else(|| {
        page(
            "Invalid request",
            "The application did not say who it is (client_id is missing).",
        )
    })
}

/// Phase 1: `redirect_uri` is REQUIRED and must match a registered one byte for byte
/// (OIDC Core §3.1.2.1; RFC 9700 §4.1.3 — no normalisation, no prefix or pattern matching).
pub fn check_redirect_uri<'a>(
    params: &'a Params,
    client: &ClientRecord,
) -> Result<&'a str, RequestError> {
    if params.is_duplicated("redirect_uri") {
        return Err(page(
            "Invalid request",
            "The redirect_uri parameter was sent more than once.",
        ));
    }
    let Some(uri) = params.get("redirect_uri") else {
        return Err(page(
            "Invalid request",
            "The application did not say where to return (redirect_uri is missing).",
        ));
    };
    if !client.redirect_uris.iter().any(|r| r == uri) {
        return Err(page(
            "Unregistered redirect address",
            "The address this application asked to return to is not registered for it, so \
             firmgate will not send you there. Contact the application's administrator.",
        ));
    }
    Ok(uri)
}

/// RFC 9700 §2.6: no CORS at the authorization endpoint; phase-1 checks for POSTs done by scripts
/// happen in the handler. Here: the response mode, needed to deliver every later error.
fn check_response_mode(params: &Params) -> Result<ResponseMode, &'static str> {
    match params.get("response_mode") {
        None | Some("query") => Ok(ResponseMode::Query),
        Some("form_post") => Ok(ResponseMode::FormPost),
        Some(_) => Err("response_mode must be query or form_post"),
    }
}

/// RFC 6749 §3.1: a parameter must not appear more than once.
fn check_no_duplicates(params: &Params) -> Result<(), String> {
    match params.first_duplicate() {
        Some(name) => Err(format!("the {name} parameter was sent more than once")),
        None => Ok(()),
    }
}

/// Oversized parameters are refused before any work is done.
fn check_sizes(params: &Params) -> Result<(), String> {
    match params.first_oversized() {
        Some(name) => Err(format!("the {name} parameter is too long")),
        None => Ok(()),
    }
}

/// OIDC Core §6: request objects are not supported, and are never silently ignored.
fn check_no_request_object(params: &Params) -> Result<(), (&'static str, &'static str)> {
    if params.has("request") {
        return Err(("request_not_supported", "request objects are not supported"));
    }
    if params.has("request_uri") {
        return Err(("request_uri_not_supported", "request_uri is not supported"));
    }
    Ok(())
}

/// RFC 6749 §4.1.1 / RFC 9700 §2.1.2: `response_type=code` only.
fn check_response_type(params: &Params) -> Result<(), (&'static str, &'static str)> {
    match params.get("response_type") {
        None => Err(("invalid_request", "response_type is required")),
        Some("code") => Ok(()),
        Some(_) => Err((
            "unsupported_response_type",
            "only response_type=code is supported",
        )),
    }
}

/// RFC 6749 §4.1.2.1 `unauthorized_client`: the client must be registered for the code grant.
fn check_client_may_use_code(client: &ClientRecord) -> Result<(), &'static str> {
    if client.grant_types.iter().any(|g| g == "authorization_code") {
        Ok(())
    } else {
        Err("this client is not registered for the authorization code grant")
    }
}

/// OIDC Core §3.1.2.1: `openid` is required; unknown scopes are dropped (RFC 6749 §3.3).
fn check_scope(params: &Params) -> Result<Vec<String>, &'static str> {
    let requested: Vec<&str> = params.get("scope").unwrap_or("").split(' ').collect();
    if !requested.contains(&"openid") {
        return Err("scope must include openid");
    }
    Ok(SUPPORTED_SCOPES
        .iter()
        .filter(|s| requested.contains(s))
        .map(|s| (*s).to_owned())
        .collect())
}

/// OIDC Core §3.1.2.1 `prompt`: known values only; `none` with anything else is an error.
fn check_prompt(params: &Params) -> Result<Prompt, &'static str> {
    let mut p = Prompt::default();
    let Some(value) = params.get("prompt") else {
        return Ok(p);
    };
    let mut count = 0;
    for v in value.split(' ').filter(|v| !v.is_empty()) {
        count += 1;
        match v {
            "none" => p.none = true,
            // Signing in again is how a person picks another account.
            "login" | "select_account" => p.login = true,
            "consent" => p.consent = true,
            _ => return Err("prompt has an unknown value"),
        }
    }
    if p.none && count > 1 {
        return Err("prompt=none cannot be combined with other values");
    }
    Ok(p)
}

/// OIDC Core §3.1.2.1 `max_age`: a non-negative number of seconds.
fn check_max_age(params: &Params) -> Result<Option<i64>, &'static str> {
    match params.get("max_age") {
        None => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0 && v.bytes().all(|b| b.is_ascii_digit()))
            .map(Some)
            .ok_or("max_age must be a non-negative integer"),
    }
}

/// RFC 7636 §4.2-4.3 and RFC 9700 §2.1.1: S256 only; a challenge is 43 base64url characters;
/// public clients must send one.
fn check_pkce(params: &Params, client: &ClientRecord) -> Result<Option<String>, &'static str> {
    let method = params.get("code_challenge_method");
    let Some(challenge) = params.get("code_challenge") else {
        if method.is_some() {
            return Err("code_challenge_method without code_challenge");
        }
        if client.secret_hash.is_none() {
            return Err("PKCE (code_challenge with S256) is required for public clients");
        }
        return Ok(None);
    };
    if method != Some("S256") {
        // An absent method means `plain` (RFC 7636 §4.3), which firmgate refuses.
        return Err("code_challenge_method must be S256");
    }
    let well_formed = challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err("code_challenge must be 43 base64url characters");
    }
    Ok(Some(challenge.to_owned()))
}

fn check_lengths(params: &Params) -> Result<(), &'static str> {
    if params.get("state").is_some_and(|s| s.len() > MAX_STATE_LEN) {
        return Err("state is too long");
    }
    if params.get("nonce").is_some_and(|s| s.len() > MAX_NONCE_LEN) {
        return Err("nonce is too long");
    }
    Ok(())
}

/// OIDC Core §5.5: `claims` is a JSON object whose `userinfo` / `id_token` members are objects.
fn check_claims(params: &Params) -> Result<Option<String>, &'static str> {
    let Some(text) = params.get("claims") else {
        return Ok(None);
    };
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|_| "claims is not valid JSON")?;
    let obj = value.as_object().ok_or("claims must be a JSON object")?;
    for member in ["userinfo", "id_token"] {
        if let Some(m) = obj.get(member) {
            if !m.is_object() {
                return Err("claims members must be JSON objects");
            }
        }
    }
    Ok(Some(value.to_string()))
}

/// OIDC Core §3.1.2.1 `id_token_hint`: one of firmgate's own ID tokens (expired is fine).
fn check_id_token_hint(
    params: &Params,
    keys: &KeySet,
    issuer: &str,
    now: UnixTime,
) -> Result<Option<String>, &'static str> {
    let Some(hint) = params.get("id_token_hint") else {
        return Ok(None);
    };
    let verified = jwt::verify(keys, hint, now).map_err(|_| "id_token_hint is not valid")?;
    if verified.claims.get("iss").and_then(|v| v.as_str()) != Some(issuer) {
        return Err("id_token_hint was not issued by firmgate");
    }
    verified
        .claims
        .get("sub")
        .and_then(|v| v.as_str())
        .map(|s| Some(s.to_owned()))
        .ok_or("id_token_hint has no sub")
}

/// Phase 2: everything after the client and redirect_uri are trusted. Errors go back to the
/// client with `error`, `error_description`, `state` and `iss`.
pub fn validate(
    params: &Params,
    client: &ClientRecord,
    redirect_uri: &str,
    keys: &KeySet,
    issuer: &str,
    now: UnixTime,
) -> Result<AuthorizationRequest, RequestError> {
    let state = params
        .get("state")
        .filter(|s| s.len() <= MAX_STATE_LEN)
        .map(str::to_owned);
    let mut target = ErrorTarget {
        redirect_uri: redirect_uri.to_owned(),
        response_mode: ResponseMode::Query,
        state,
    };
    let fail = |target: &ErrorTarget, code: &'static str, d: &str| RequestError::Redirect {
        target: target.clone(),
        code,
        description: d.to_owned(),
    };
    target.response_mode =
        check_response_mode(params).map_err(|d| fail(&target, "invalid_request", d))?;
    check_sizes(params).map_err(|d| fail(&target, "invalid_request", &d))?;
    check_no_duplicates(params).map_err(|d| fail(&target, "invalid_request", &d))?;
    check_no_request_object(params).map_err(|(c, d)| fail(&target, c, d))?;
    check_response_type(params).map_err(|(c, d)| fail(&target, c, d))?;
    check_client_may_use_code(client).map_err(|d| fail(&target, "unauthorized_client", d))?;
    let scopes = check_scope(params).map_err(|d| fail(&target, "invalid_scope", d))?;
    let prompt = check_prompt(params).map_err(|d| fail(&target, "invalid_request", d))?;
    let max_age = check_max_age(params).map_err(|d| fail(&target, "invalid_request", d))?;
    let code_challenge =
        check_pkce(params, client).map_err(|d| fail(&target, "invalid_request", d))?;
    check_lengths(params).map_err(|d| fail(&target, "invalid_request", d))?;
    let claims = check_claims(params).map_err(|d| fail(&target, "invalid_request", d))?;
    let hinted_sub = check_id_token_hint(params, keys, issuer, now)
        .map_err(|d| fail(&target, "invalid_request", d))?;

    Ok(AuthorizationRequest {
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        response_mode: target.response_mode,
        scopes,
        state: target.state,
        nonce: params.get("nonce").map(str::to_owned),
        prompt_none: prompt.none,
        prompt_login: prompt.login,
        prompt_consent: prompt.consent,
        max_age,
        code_challenge,
        login_hint: params.get("login_hint").map(str::to_owned),
        firm: params
            .get("firm")
            .filter(|f| !f.is_empty() && f.len() <= 64)
            .map(str::to_owned),
        hinted_sub,
        acr_values: params
            .get("acr_values")
            .map(|v| {
                v.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        claims,
    })
}

#[cfg(test)]
mod tests;
