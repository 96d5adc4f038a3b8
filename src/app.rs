//! AppState, the route table and the server. Each feature owns its routes; this file merges them
//! and applies the middleware: body and time limits, security headers, tracing.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::response::IntoResponse;
use axum::Router;
use tokio::net::TcpListener;

use crate::clock::Clock;
use crate::config::Settings;
use crate::crypto::password::{PasswordHashError, PasswordHasherPool};
use crate::keyring::Keyring;
use crate::mail::sender::Mailer;
use crate::store::{Store, StoreError};

/// Longest a request may take once its headers are in (`408 Request Timeout` after).
pub const REQUEST_TIME_LIMIT: Duration = Duration::from_secs(30);

/// Largest request body accepted anywhere (forms and token requests are small).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What every handler shares, behind one `Arc`: a request clones the state (axum's `State`
/// extractor, the middleware) several times, and one reference count is cheaper to touch on
/// every core than one per part.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.0
    }
}

#[derive(Debug)]
pub struct Services {
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
        let upstreams = crate::federation::Upstreams::new(&settings.upstreams);
        let state = AppState(Arc::new(Services {
            upstreams,
            backchannel: Arc::new(tokio::sync::Notify::new()),
            discovery: Arc::default(),
            settings: Arc::new(settings),
            store,
            clock,
            keys,
            passwords,
            mailer,
        }));
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
        // Every route's middleware, outermost first, applied as one stack: each `Router::layer`
        // call wraps every route in one more boxed service, cloned on every request.
        .layer(
            tower::ServiceBuilder::new()
                // Outermost, so that requests cut off by the time limit are counted and logged.
                .layer(crate::observe::requests::ObserveLayer)
                .layer(crate::web::time_limit::TimeLimitLayer::new(
                    REQUEST_TIME_LIMIT,
                ))
                .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
                .layer(crate::web::headers::security_headers()),
        )
        .with_state(state)
}

async fn not_found() -> impl IntoResponse {
    crate::error::PageError::not_found()
}

/// Serves on `listener` until SIGTERM or Ctrl-C, then shuts down in order: stop accepting,
/// finish requests in flight (see `web::server`), let the background workers finish their
/// current pass (the outbox makes one last delivery pass, so that mail queued by the last
/// requests goes out and every message's state is recorded), and return.
pub async fn serve(state: AppState, listener: TcpListener) -> std::io::Result<()> {
    serve_until(state, listener, shutdown_signal()).await
}

/// How long the background workers get to finish after the last request.
const WORKER_DRAIN: Duration = Duration::from_secs(10);

pub async fn serve_until(
    state: AppState,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let workers = [
        tokio::spawn(reload_keys(state.clone(), stopped.clone())),
        tokio::spawn(deliver_mail(state.clone(), stopped.clone())),
        tokio::spawn(deliver_logouts(state.clone(), stopped)),
    ];
    let served = crate::web::server::serve_connections(listener, router(state), shutdown).await;
    let _ = stop.send(true);
    let deadline = tokio::time::Instant::now() + WORKER_DRAIN;
    for worker in workers {
        if tokio::time::timeout_at(deadline, worker).await.is_err() {
            tracing::warn!("a background worker did not finish in time");
        }
    }
    tracing::info!("stopped");
    served
}

/// Waits `period`, a wake-up, or the stop signal; false once stopping.
async fn pause(
    period: Duration,
    wake: impl std::future::Future<Output = ()>,
    stopped: &mut tokio::sync::watch::Receiver<bool>,
) -> bool {
    if *stopped.borrow() {
        return false;
    }
    tokio::select! {
        () = wake => true,
        () = tokio::time::sleep(period) => true,
        _ = stopped.changed() => false,
    }
}

/// Keys rotated by another process or node are picked up within this period.
pub const KEY_RELOAD_PERIOD: Duration = Duration::from_secs(10);

async fn reload_keys(state: AppState, mut stopped: tokio::sync::watch::Receiver<bool>) {
    while pause(KEY_RELOAD_PERIOD, std::future::pending(), &mut stopped).await {
        let now = state.clock.now();
        if let Err(e) = state
            .keys
            .reload(&state.store, &state.settings.master_key, now)
            .await
        {
            tracing::warn!(error = %e, "could not reload signing keys");
        }
    }
}

/// The outbox: at once when woken, every few seconds for retries, and once more when stopping.
async fn deliver_mail(state: AppState, mut stopped: tokio::sync::watch::Receiver<bool>) {
    loop {
        let now = state.clock.now();
        if let Err(e) = state.mailer.send_due(&state.store, now).await {
            tracing::warn!(error = %e, "outbox delivery pass failed");
        }
        if !pause(Duration::from_secs(5), state.mailer.woken(), &mut stopped).await {
            break;
        }
    }
    if let Err(e) = state.mailer.send_due(&state.store, state.clock.now()).await {
        tracing::warn!(error = %e, "last outbox delivery pass failed");
    }
}

/// Back-channel logout tokens: at once when a sign-out wakes it, and every two seconds for
/// sessions ended elsewhere and for retries.
async fn deliver_logouts(state: AppState, mut stopped: tokio::sync::watch::Receiver<bool>) {
    loop {
        if let Err(e) = crate::oidc::backchannel::deliver_due(&state).await {
            tracing::warn!(error = %e, "back-channel logout pass failed");
        }
        let wake = state.backchannel.notified();
        if !pause(Duration::from_secs(2), wake, &mut stopped).await {
            break;
        }
    }
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
