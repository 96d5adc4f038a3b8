//! `firmgate serve --demo`: a demo firm, a demo person and a built-in relying party at `/demo`,
//! so one click shows a whole sign-in: authorize (PKCE), login, consent, code, tokens, the ID
//! token's claims, UserInfo and a refresh. The demo RP is a public client and redeems through the
//! same grant code the token endpoint uses.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use crate::admin::clients::{create_client, ClientSpec};
use crate::admin::firms::create_firm;
use crate::admin::users::{create_user, NewUser};
use crate::admin::AdminError;
use crate::app::AppState;
use crate::crypto::jwt;
use crate::crypto::password::Password;
use crate::error::PageError;
use crate::oidc::grants::refresh_token;
use crate::oidc::own_client::{self, Pending};
use crate::web::client_ip::RequestActor;
use crate::web::params::Params;
use crate::web::render;

pub const DEMO_CLIENT_NAME: &str = "firmgate demo";
pub const DEMO_EMAIL: &str = "demo@firmgate.test";
pub const DEMO_PASSWORD: &str = "correct horse battery staple";
const DEMO_COOKIE: &str = "firmgate-demo";

pub struct Seeded {
    pub email: &'static str,
    pub password: &'static str,
}

/// Creates the demo firm, person and client unless they exist.
pub async fn seed(state: &AppState) -> Result<Seeded, AdminError> {
    if state
        .store
        .client_by_name(DEMO_CLIENT_NAME)
        .await?
        .is_none()
    {
        let firm = create_firm(state, "Demo & Partners LLP", Some("gb")).await?;
        let password = Password::new(DEMO_PASSWORD);
        create_user(
            state,
            &NewUser {
                firm_id: &firm.id,
                email: DEMO_EMAIL,
                name: "Dana Demo",
                password: &password,
                role: "owner",
            },
        )
        .await?;
        let issuer = state.issuer();
        create_client(
            state,
            &ClientSpec {
                name: DEMO_CLIENT_NAME.into(),
                redirect_uris: vec![format!("{issuer}/demo/callback")],
                post_logout_redirect_uris: vec![format!("{issuer}/demo")],
                public: true,
                firm_id: Some(firm.id),
                ..ClientSpec::default()
            },
        )
        .await?;
    }
    Ok(Seeded {
        email: DEMO_EMAIL,
        password: DEMO_PASSWORD,
    })
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/demo", get(home))
        .route("/demo/start", get(start))
        .route("/demo/callback", get(callback))
}

#[derive(Template)]
#[template(path = "demo.html")]
struct DemoPage<'a> {
    result: Option<DemoResult>,
    error: Option<&'a str>,
    logout_url: Option<String>,
}

struct DemoResult {
    id_token_claims: String,
    userinfo: String,
    refreshed: String,
}

async fn home(State(state): State<AppState>) -> Result<Response, PageError> {
    demo_client(&state).await?;
    Ok(render::page(&DemoPage {
        result: None,
        error: None,
        logout_url: None,
    }))
}

async fn demo_client(state: &AppState) -> Result<crate::store::clients::ClientRecord, PageError> {
    state
        .store
        .client_by_name(DEMO_CLIENT_NAME)
        .await?
        .ok_or_else(|| PageError {
            status: axum::http::StatusCode::NOT_FOUND,
            title: "No demo here".into(),
            message: "Start firmgate with `firmgate serve --demo` to get the demo relying party."
                .into(),
        })
}

async fn start(State(state): State<AppState>) -> Result<Response, PageError> {
    let client = demo_client(&state).await?;
    let pending = Pending::new();
    let issuer = state.issuer();
    let url = pending.authorize_url(
        &issuer,
        &client.id,
        &format!("{issuer}/demo/callback"),
        "openid profile email",
        &[],
    )?;
    let cookie_value = pending.to_cookie_value();
    let cookie = cookie::Cookie::build((DEMO_COOKIE, cookie_value))
        .path("/demo")
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .build();
    let res = render::see_other(&url);
    Ok(render::with_cookies(
        res,
        [axum::http::HeaderValue::from_str(&cookie.to_string()).ok()],
    ))
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(
    State(state): State<AppState>,
    RequestActor(visitor): RequestActor,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, PageError> {
    let client = demo_client(&state).await?;
    let fail = |message: String| {
        render::page(&DemoPage {
            result: None,
            error: Some(&message),
            logout_url: None,
        })
    };
    if let Some(e) = q.error {
        return Ok(fail(format!(
            "The sign-in ended with {e}: {}",
            q.error_description.unwrap_or_default()
        )));
    }
    let cookie = headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| cookie::Cookie::split_parse(v.to_owned()))
        .filter_map(Result::ok)
        .find(|c| c.name() == DEMO_COOKIE)
        .map(|c| c.value().to_owned());
    let Some(pending) = Pending::matching(cookie.as_deref(), q.state.as_deref()) else {
        return Ok(fail(
            "The state did not match this browser's sign-in; start again.".into(),
        ));
    };
    let Some(code) = q.code else {
        return Ok(fail("No code came back.".into()));
    };
    let redirect_uri = format!("{}/demo/callback", state.issuer());
    let tokens = match own_client::redeem(&state, &client, &redirect_uri, &pending, &code).await {
        Ok(t) => t,
        Err(e) => {
            return Ok(fail(format!(
                "The code could not be redeemed: {}",
                e.description
            )))
        }
    };
    let now = state.clock.now();
    let claims = tokens
        .id_token
        .as_deref()
        .and_then(|t| jwt::verify(&state.keys.current(), t, now).ok())
        .map(|v| serde_json::Value::Object(v.claims))
        .unwrap_or_default();
    if claims.get("nonce").and_then(|n| n.as_str()) != Some(pending.nonce.as_str()) {
        return Ok(fail("The ID token's nonce did not match.".into()));
    }
    let userinfo = crate::oidc::userinfo::claims_for(&state, &tokens.access_token, &visitor)
        .await
        .unwrap_or_default();
    let refreshed = match tokens.refresh_token.as_deref() {
        Some(rt) => {
            let form = Params::parse(
                &form_urlencoded::Serializer::new(String::new())
                    .append_pair("refresh_token", rt)
                    .finish(),
            )
            .map_err(|_| PageError::internal())?;
            match refresh_token::refresh(&state, &client, &form, &visitor).await {
                Ok(t) => {
                    serde_json::json!({ "token_type": t.token_type, "expires_in": t.expires_in, "scope": t.scope, "new_refresh_token_issued": t.refresh_token.is_some() })
                }
                Err(e) => {
                    serde_json::json!({ "error": e.code, "error_description": e.description })
                }
            }
        }
        None => serde_json::json!({ "note": "no refresh token was issued" }),
    };
    let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default();
    let logout_url = tokens.id_token.as_deref().map(|t| {
        let mut u = format!("{}/logout?", state.issuer());
        u.push_str(
            &form_urlencoded::Serializer::new(String::new())
                .append_pair("id_token_hint", t)
                .append_pair(
                    "post_logout_redirect_uri",
                    &format!("{}/demo", state.issuer()),
                )
                .finish(),
        );
        u
    });
    Ok(render::page(&DemoPage {
        result: Some(DemoResult {
            id_token_claims: pretty(&claims),
            userinfo: pretty(&userinfo),
            refreshed: pretty(&refreshed),
        }),
        error: None,
        logout_url,
    })
    .into_response())
}
