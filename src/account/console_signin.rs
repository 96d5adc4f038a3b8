//! How a person gets into My Profile. My Profile is a relying party of firmgate itself (a
//! built-in first-party client): without a live session the browser goes through `/authorize`,
//! so the same journey — login, the forced password step, firm choice, every firm policy —
//! decides, and `/account/callback` redeems the code in process before showing the page.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use crate::app::AppState;
use crate::crypto::keys::SigningAlg;
use crate::error::PageError;
use crate::oidc::own_client::{self, Pending};
use crate::store::clients::ClientRecord;
use crate::store::StoreResult;
use crate::web::cookies::{self, CookieName};
use crate::web::render;

/// The built-in client's fixed id; its name is what the audit log and consent list show.
pub const ACCOUNT_CLIENT_ID: &str = "firmgate-account";
const ACCOUNT_CLIENT_NAME: &str = "firmgate My Profile";

fn callback_uri(state: &AppState) -> String {
    format!("{}/account/callback", state.issuer())
}

/// Creates the built-in client on start, or points its redirect URI at the current issuer.
pub async fn ensure_client(state: &AppState) -> StoreResult<()> {
    state
        .store
        .upsert_builtin_client(&ClientRecord {
            id: ACCOUNT_CLIENT_ID.to_owned(),
            name: ACCOUNT_CLIENT_NAME.to_owned(),
            secret_hash: None,
            auth_method: crate::oidc::client_auth::METHOD_NONE.to_owned(),
            redirect_uris: vec![callback_uri(state)],
            post_logout_redirect_uris: vec![format!("{}/account", state.issuer())],
            grant_types: vec!["authorization_code".to_owned()],
            first_party: true,
            firm_id: None,
            signing_alg: SigningAlg::Es256.as_str().to_owned(),
            access_token_ttl_secs: Some(60),
            refresh_token_ttl_secs: None,
            created_at: state.clock.now(),
        })
        .await
}

/// `GET /account/signin`: starts the round trip through `/authorize`.
pub async fn start(State(state): State<AppState>) -> Result<Response, PageError> {
    let pending = Pending::new();
    let url = pending.authorize_url(
        &state.issuer(),
        ACCOUNT_CLIENT_ID,
        &callback_uri(&state),
        "openid",
    )?;
    let cookie = cookies::set(
        CookieName::AccountSignin,
        &pending.to_cookie_value(),
        state.settings.cookies_secure(),
    );
    Ok(render::with_cookies(render::see_other(&url), [cookie]))
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /account/callback`: the journey's answer. A code (for this browser's round trip) is
/// redeemed and the browser goes on to My Profile; an error is shown as a page.
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, PageError> {
    let secure = state.settings.cookies_secure();
    let clear = cookies::clear(CookieName::AccountSignin, secure);
    if let Some(error) = q.error.as_deref() {
        // The description is not shown: anyone can craft this URL, and the page must not
        // repeat their words under firmgate's name.
        let message = if error == "access_denied" {
            "Sign-in was refused: you are not a member of a firm, or your firm's policy does not allow it here."
        } else {
            "The sign-in did not complete. Open My Profile again to retry."
        };
        return Err(PageError::forbidden("Could not open My Profile", message));
    }
    let pending = Pending::matching(
        cookies::read(&headers, CookieName::AccountSignin, secure).as_deref(),
        q.state.as_deref(),
    )
    .ok_or_else(|| {
        PageError::bad_request(
            "This sign-in link does not work",
            "It belongs to another browser or was already used. Open My Profile again.",
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
    own_client::redeem(&state, &client, &callback_uri(&state), &pending, code)
        .await
        .map_err(|_| {
            PageError::bad_request(
                "This sign-in link does not work",
                "The code was already used or has expired. Open My Profile again.",
            )
        })?;
    Ok(render::with_cookies(render::see_other("/account"), [clear]))
}
