//! The admin web app: HTTPS (rustls) serving the JSON API under `/api/v1`
//! and the server-rendered UI pages, behind one account with sessions and
//! CSRF tokens; and the plain-HTTP Prometheus endpoint. Does I/O (sockets,
//! the certificate and password files in `state_dir`).
//!
//! Entry points: [`serve`] / [`start`] for the admin port,
//! [`serve_metrics`] for `/metrics`.

pub mod auth;
mod bearer;
mod checker;
pub mod door;
mod forms;
mod guard;
mod html;
mod i18n;
mod live;
mod pages;
mod render;
mod server;
mod session;
pub mod throttle;
pub mod tls;
mod token_pages;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::api::Control;
pub use live::{AdminLive, MetricsDoor};
pub use tls::TlsSource;

/// What can stop the admin port or the metrics endpoint.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// A certificate or key is unusable.
    #[error("TLS: {path}: {message}")]
    Tls {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The password could not be set or checked.
    #[error("password: {0}")]
    Password(String),
    /// An API token could not be made, found or read.
    #[error("token: {0}")]
    Token(String),
    /// The server stopped with an error.
    #[error("admin server: {0}")]
    Serve(String),
}

/// Tunables of the admin port; [`Default`] is what the daemon uses.
#[derive(Debug, Clone)]
pub struct AdminOptions {
    /// A session unused this long ends (30 min).
    pub session_idle: Duration,
    /// A session ends this long after login regardless (12 h).
    pub session_max: Duration,
    /// Failed logins from one source within `failure_window` before the
    /// source is banned (10).
    pub max_failures: usize,
    /// The window for `max_failures` (5 min).
    pub failure_window: Duration,
    /// How long a source is banned for too many failures (15 min).
    pub ban_secs: u64,
    /// Added delay per recent failure before a refusal answers (100 ms)...
    pub delay_step: Duration,
    /// ...up to this (2 s).
    pub delay_cap: Duration,
    /// Largest request body (1 MiB).
    pub body_limit: usize,
    /// Password checks running at once, all sources together (2): each
    /// argon2id check holds about 19 MiB.
    pub max_checks: usize,
    /// How long an attempt waits for a check slot before it is refused
    /// as busy (10 s).
    pub check_wait: Duration,
}

impl Default for AdminOptions {
    fn default() -> Self {
        AdminOptions {
            session_idle: Duration::from_secs(30 * 60),
            session_max: Duration::from_secs(12 * 3600),
            max_failures: 10,
            failure_window: Duration::from_secs(5 * 60),
            ban_secs: 15 * 60,
            delay_step: Duration::from_millis(100),
            delay_cap: Duration::from_secs(2),
            body_limit: 1 << 20,
            max_checks: 2,
            check_wait: Duration::from_secs(10),
        }
    }
}

/// Shared by every admin request.
pub(crate) struct AdminState {
    pub control: Arc<dyn Control>,
    pub state_dir: PathBuf,
    pub options: AdminOptions,
    pub sessions: Mutex<auth::Sessions>,
    pub throttle: Mutex<throttle::Throttle>,
    /// The password-checking threads ([`AdminOptions::max_checks`]).
    pub checker: checker::Checker,
    /// The certificate served (its fingerprint for the dashboard).
    pub certs: Arc<tls::CertSwap>,
}

/// A running admin port.
pub struct AdminHandle {
    /// The bound address (useful with port 0).
    pub local_addr: SocketAddr,
    /// SHA-256 fingerprint of the certificate served, `AB:CD:...`.
    pub fingerprint: String,
    /// The certificate file served.
    pub cert_path: PathBuf,
    /// Moves the port and swaps the certificate while it runs.
    pub live: Arc<AdminLive>,
    /// Ends when the shutdown future has fired and connections are closed.
    pub task: JoinHandle<()>,
}

/// Binds the admin port and serves it in a task until `shutdown` resolves.
/// Logs the certificate's fingerprint (and whether it was just made).
pub async fn start(
    listen: SocketAddr,
    tls: TlsSource,
    state_dir: &Path,
    control: Arc<dyn Control>,
    options: AdminOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<AdminHandle, AdminError> {
    let ready = tls::prepare(&tls, state_dir)?;
    if ready.generated {
        tracing::info!(cert = %ready.cert_path.display(), "made a self-signed admin certificate");
    }
    tracing::info!(fingerprint = %ready.fingerprint, "admin certificate SHA-256");
    if !auth::passwd_path(state_dir).exists() {
        tracing::warn!("no admin password set: run `parvis passwd --config FILE` to allow logins");
    }
    let listener = door::bind("admin.listen", listen)?;
    let checker = checker::Checker::start(options.max_checks)?;
    let state = Arc::new(AdminState {
        control,
        state_dir: state_dir.to_path_buf(),
        options,
        sessions: Mutex::new(auth::Sessions::default()),
        throttle: Mutex::new(throttle::Throttle::default()),
        checker,
        certs: ready.certs.clone(),
    });
    let app = app(state);
    let acceptor = tokio_rustls::TlsAcceptor::from(ready.config);
    let (door, task) = door::Door::spawn(
        "admin.listen",
        listener,
        shutdown,
        move |tcp, peer, stop| server::serve_conn(tcp, peer, acceptor.clone(), app.clone(), stop),
    )?;
    let local_addr = door.local_addr();
    tracing::info!(%local_addr, "admin UI listening (HTTPS)");
    let live = Arc::new(AdminLive::new(door, ready.certs, state_dir));
    Ok(AdminHandle {
        local_addr,
        fingerprint: ready.fingerprint,
        cert_path: ready.cert_path,
        live,
        task,
    })
}

/// [`start`] with default options, then waits until it has stopped.
pub async fn serve(
    listen: SocketAddr,
    tls: TlsSource,
    state_dir: &Path,
    control: Arc<dyn Control>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AdminError> {
    let handle = start(
        listen,
        tls,
        state_dir,
        control,
        AdminOptions::default(),
        shutdown,
    )
    .await?;
    handle
        .task
        .await
        .map_err(|e| AdminError::Serve(e.to_string()))
}

/// The whole admin router: guard, pages, session routes and the JSON API.
fn app(state: Arc<AdminState>) -> axum::Router {
    use axum::extract::DefaultBodyLimit;
    let limit = state.options.body_limit;
    axum::Router::new()
        .nest(
            "/api/v1",
            session::api_routes(state.clone())
                .merge(crate::api::json::router(state.control.clone())),
        )
        .merge(token_pages::router(state.clone()))
        .merge(pages::router(state.clone()))
        .layer(axum::middleware::from_fn_with_state(state, guard::guard))
        .layer(axum::middleware::from_fn(i18n::choose))
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::map_response(guard::security_headers))
}

/// Serves Prometheus text at `/metrics` over plain HTTP until `shutdown`.
pub async fn serve_metrics(
    listen: SocketAddr,
    control: Arc<dyn Control>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AdminError> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| AdminError::Bind {
            addr: listen.to_string(),
            source: e,
        })?;
    serve_metrics_on(listener, control, shutdown).await
}

/// [`serve_metrics`] on a bound listener (tests bind port 0 first).
pub async fn serve_metrics_on(
    listener: tokio::net::TcpListener,
    control: Arc<dyn Control>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AdminError> {
    axum::serve(listener, metrics_app(control))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| AdminError::Serve(e.to_string()))
}

/// The `/metrics` router.
fn metrics_app(control: Arc<dyn Control>) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(metrics_text))
        .with_state(control)
}

async fn metrics_text(
    axum::extract::State(c): axum::extract::State<Arc<dyn Control>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let text = crate::api::json::blocking(c, |c| Ok(crate::api::metrics::render(c)))
        .await
        .unwrap_or_default();
    (
        [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
        text,
    )
        .into_response()
}
