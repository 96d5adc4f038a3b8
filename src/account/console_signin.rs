//! How a person gets into My Profile and the admin console. Both are relying parties of firmgate
//! itself (one built-in first-party client): without a live session the browser goes through
//! `/authorize`, so the same journey — login, the second factor, the forced password step, firm
//! choice, every firm policy — decides, and the console's callback redeems the code in process
//! before showing the page. The admin console insists on the MFA acr, so its pages are never
//! reached on a password-only session, whatever the firm's policy.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use crate::app::AppState;
use crate::crypto::keys::SigningAlg;
use crate::error::PageError;
use crate::oidc::claims::ACR_MFA;
use crate::oidc::own_client::{self, Pending};
use crate::store::clients::ClientRecord;
use crate::store::StoreResult;
use crate::web::cookies::{self, CookieName};
use crate::web::render;

/// The built-in client's fixed id; its name is what the audit log and consent list show.
pub const ACCOUNT_CLIENT_ID: &str = "firmgate-account";
const ACCOUNT_CLIENT_NAME: &str = "firmgate My Profile";

/// The pages that sign in through the built-in client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Console {
    /// My Profile (`/account`).
    Account,
    /// The firm admin console (`/admin`): MFA whatever the firm policy.
    Admin,
}

impl Console {
    const ALL: [Console; 2] = [Console::Account, Console::Admin];

    fn landing(self) -> &'static str {
        match self {
            Console::Account => "/account",
            Console::Admin => "/admin",
        }
    }

    fn callback_uri(self, state: &AppState) -> String {
        format!("{}{}/callback", state.issuer(), self.landing())
    }

    fn extra_params(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Console::Account => &[],
            Console::Admin => &[("acr_values", ACR_MFA)],
        }
    }
}

/// Creates the built-in client on start, or points its redirect URIs at the current issuer.
pub async fn ensure_client(state: &AppState) -> StoreResult<()> {
    state
        .store
        .upsert_builtin_client(&ClientRecord {
            id: ACCOUNT_CLIENT_ID.to_owned(),
            name: ACCOUNT_CLIENT_NAME.to_owned(),
            secret_hash: None,
            auth_method: crate::oidc::client_auth::METHOD_NONE.to_owned(),
            redirect_uris: Console::ALL.iter().map(|c| c.callback_uri(state)).collect(),
            post_logout_redirect_uris: vec![format!("{}/account", state.issuer())],
            grant_types: vec!["authorization_code".to_owned()],
            first_party: true,
            firm_id: None,
            signing_alg: SigningAlg::Es256.as_str().to_owned(),
            access_token_ttl_secs: Some(60),
            refresh_token_ttl_secs: None,
            created_at: state.clock.now(),
            backchannel_logout_uri: None,
        })
        .await
}

/// Starts the round trip through `/authorize` for `console`.
pub async fn start_for(state: &AppState, console: Console) -> Result<Response, PageError> {
    let pending = Pending::new();
    let url = pending.authorize_url(
        &state.issuer(),
        ACCOUNT_CLIENT_ID,
        &console.callback_uri(state),
        "openid",
        console.extra_params(),
    )?;
    let cookie = cookies::set(
        CookieName::AccountSignin,
        &pending.to_cookie_value(),
        state.settings.cookies_secure(),
    );
    Ok(render::with_cookies(render::see_other(&url), [cookie]))
}

/// `GET /account/signin`.
pub async fn start(State(state): State<AppState>) -> Result<Response, PageError> {
    start_for(&state, Console::Account).await
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// The journey's answer. A code (for this browser's round trip) is redeemed and the browser
/// goes on to the console; an error is shown as a page.
pub async fn callback_for(
    state: &AppState,
    headers: &HeaderMap,
    q: &CallbackQuery,
    console: Console,
) -> Result<Response, PageError> {
    let secure = state.settings.cookies_secure();
    let clear = cookies::clear(CookieName::AccountSignin, secure);
    if let Some(error) = q.error.as_deref() {
        // The description is not shown: anyone can craft this URL, and the page must not
        // repeat their words under firmgate's name.
        let message = if error == "access_denied" {
            "Sign-in was refused: you are not a member of a firm, or your firm's policy does not allow it here."
        } else {
            "The sign-in did not complete. Open the page again to retry."
        };
        return Err(PageError::forbidden("Could not sign you in", message));
    }
    let pending = Pending::matching(
        cookies::read(headers, CookieName::AccountSignin, secure).as_deref(),
        q.state.as_deref(),
    )
    .ok_or_else(|| {
        PageError::bad_request(
            "This sign-in link does not work",
            "It belongs to another browser or was already used. Open the page again.",
        )
    })?;
    let code = q.code.as_deref().ok_or_else(|| {
        PageError::bad_request("Sign-in incomplete", "No authorization code came back.")
    })?;
    let client = state
        .store
        .client(ACCOUNT_CLIENT_ID)
        .await?
        .ok_or_else(PageError::internal)?;
    own_client::redeem(state, &client, &console.callback_uri(state), &pending, code)
        .await
        .map_err(|_| {
            PageError::bad_request(
                "This sign-in link does not work",
                "The code was already used or has expired. Open the page again.",
            )
        })?;
    Ok(render::with_cookies(
        render::see_other(console.landing()),
        [clear],
    ))
}

/// `GET /account/callback`.
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, PageError> {
    callback_for(&state, &headers, &q, Console::Account).await
}
