//! AppState, the route table and the server. Each feature owns its routes; this file merges them
//! and applies the middleware: body and time limits, security headers, tracing.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Router;
use tokio::net::TcpListener;
use tower_http::timeout::TimeoutLayer;

use crate::clock::Clock;
use crate::config::Settings;
use crate::crypto::password::{PasswordHashError, PasswordHasherPool};
use crate::keyring::Keyring;
use crate::mail::sender::Mailer;
use crate::store::{Store, StoreError};

/// Largest request body accepted anywhere (forms and token requests are small).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Clone, Debug)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub clock: Clock,
    pub keys: Keyring,
    pub passwords: PasswordHasherPool,
    pub mailer: Mailer,
    /// Microsoft, Google and other OpenID providers people may sign in with; its HTTP client
    /// also delivers back-channel logout tokens.
    pub upstreams: crate::federation::Upstreams,
    /// Wakes the back-channel logout delivery (it also runs every two seconds).
    pub backchannel: Arc<tokio::sync::Notify>,
    /// The discovery document, serialised once per key set.
    pub discovery: Arc<crate::oidc::discovery::DiscoveryCache>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Keys(#[from] crate::keyring::KeyringError),
    #[error(transparent)]
    Password(#[from] PasswordHashError),
    #[error(transparent)]
    Mail(#[from] crate::mail::sender::MailError),
    #[error("cannot build the HTTP client for upstream providers: {0}")]
    Upstreams(#[from] reqwest::Error),
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: String, reason: String },
}

impl AppState {
    /// Connects, migrates, makes sure signing keys exist and loads them.
    pub async fn start(settings: Settings, clock: Clock) -> Result<AppState, StartError> {
        let store = Store::connect(&settings.database_url).await?;
        store.migrate().await?;
        let keys = Keyring::new();
        keys.ensure_keys(&store, &settings.master_key, clock.now())
            .await?;
        keys.reload(&store, &settings.master_key, clock.now())
            .await?;
        let hashers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let passwords = PasswordHasherPool::new(settings.password_cost, hashers)?;
        let mailer = Mailer::new(
            settings.smtp_url.as_ref().map(|s| s.expose()),
            &settings.mail_from,
            settings.outbox_dir.clone(),
        )?;
        let upstreams = crate::federation::Upstreams::new(&settings.upstreams)?;
        let state = AppState {
            upstreams,
            backchannel: Arc::new(tokio::sync::Notify::new()),
            discovery: Arc::default(),
            settings: Arc::new(settings),
            store,
            clock,
            keys,
            passwords,
            mailer,
        };
        crate::account::console_signin::ensure_client(&state).await?;
        Ok(state)
    }

    pub fn issuer(&self) -> String {
        self.settings.issuer_str()
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(crate::observe::routes())
        .merge(crate::oidc::routes())
        .merge(crate::signin::routes())
        .merge(crate::account::routes())
        .merge(crate::admin::console::routes())
        .merge(crate::admin::api::routes())
        .merge(crate::demo::routes())
        .merge(crate::web::statics::routes())
        .fallback(not_found)
        .layer(axum::middleware::from_fn(
            crate::web::headers::security_headers,
        ))
        .layer(axum::middleware::from_fn(crate::observe::requests::observe))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .with_state(state)
}

async fn not_found() -> impl IntoResponse {
    crate::error::PageError::not_found()
}

/// Binds `listener` and serves until the process is stopped; SIGTERM/Ctrl-C finish requests
/// in flight first.
pub async fn serve(state: AppState, listener: TcpListener) -> std::io::Result<()> {
    let reloader = state.clone();
    tokio::spawn(async move {
        // Keys rotated by another process or node are picked up within this period.
        let mut tick = tokio::time::interval(Duration::from_secs(10));
        loop {
            tick.tick().await;
            let now = reloader.clock.now();
            if let Err(e) = reloader
                .keys
                .reload(&reloader.store, &reloader.settings.master_key, now)
                .await
            {
                tracing::warn!(error = %e, "could not reload signing keys");
            }
        }
    });
    let sender = state.clone();
    tokio::spawn(async move {
        // Delivers the outbox: at once when woken, and every few seconds for retries.
        loop {
            let now = sender.clock.now();
            if let Err(e) = sender.mailer.send_due(&sender.store, now).await {
                tracing::warn!(error = %e, "outbox delivery pass failed");
            }
            tokio::select! {
                _ = sender.mailer.woken() => {},
                _ = tokio::time::sleep(Duration::from_secs(5)) => {},
            }
        }
    });
    let notifier = state.clone();
    tokio::spawn(async move {
        // Back-channel logout tokens: at once when a sign-out wakes it, and every two seconds
        // for sessions ended elsewhere and for retries.
        loop {
            if let Err(e) = crate::oidc::backchannel::deliver_due(&notifier).await {
                tracing::warn!(error = %e, "back-channel logout pass failed");
            }
            tokio::select! {
                _ = notifier.backchannel.notified() => {},
                _ = tokio::time::sleep(Duration::from_secs(2)) => {},
            }
        }
    });
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

pub async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| StartError::Listen {
            addr: addr.to_string(),
            reason: e.to_string(),
        })
}
