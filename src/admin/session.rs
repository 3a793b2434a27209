//! Logging in and out: `POST`/`DELETE /api/v1/session` and the login and
//! logout forms. Failed logins are slowed per source and, past the
//! threshold, the source is banned from the admin port and SSH (not the
//! public sites) through [`Control::login_ban`]. Does I/O (reads the
//! password file).
//!
//! [`Control::login_ban`]: crate::api::Control::login_ban

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use serde::Deserialize;

use super::guard::{cookie, SessionCtx, SESSION_COOKIE};
use super::throttle::Refusal;
use super::{auth, AdminState};
use crate::api::json::Body;
use crate::api::ApiError;

/// The pre-login cookie for the login form's CSRF token (double submit).
pub const LOGIN_COOKIE: &str = "parvis_login";
const MAX_FIELD: usize = 1024;

/// `POST /api/v1/session` body.
#[derive(Debug, Deserialize)]
pub struct Credentials {
    /// Must be `admin`.
    pub username: String,
    /// The password.
    pub password: String,
}

/// `/session` routes (nested under `/api/v1`).
pub(crate) fn api_routes(state: Arc<AdminState>) -> Router {
    Router::new()
        .route("/session", post(api_login).delete(api_logout))
        .with_state(state)
}

/// `Set-Cookie` for a session (`Max-Age` 0 clears it).
pub fn session_cookie(value: &str, max_age: u64) -> String {
    format!(
        "{SESSION_COOKIE}={value}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age}"
    )
}

/// Checks credentials from `source`; on success opens a session and
/// returns (cookie value, csrf token). The attempt is counted before the
/// check, one source has one check in flight, and the checks of all
/// sources share [`AdminOptions::max_checks`] slots, so parallel guesses
/// are refused (429) instead of each holding an argon2 check's memory.
///
/// [`AdminOptions::max_checks`]: super::AdminOptions::max_checks
pub(crate) async fn attempt(
    st: &Arc<AdminState>,
    source: IpAddr,
    creds: Credentials,
) -> Result<(String, String), ApiError> {
    if creds.username.len() > MAX_FIELD || creds.password.len() > MAX_FIELD {
        return Err(ApiError::field("password", "too long"));
    }
    let n = Flight::begin(st, source)?;
    let flight = Flight {
        st: st.clone(),
        source,
    };
    let Some(slot) = st.checker.slot(st.options.check_wait).await else {
        flight.uncount();
        return Err(ApiError::new(503, "too many logins at once; try again"));
    };
    let good_user = creds.username == auth::USERNAME;
    // The slot and the flight go with the check: a client that hangs up
    // does not free them while the check still runs.
    let (verdict, flight) = st
        .checker
        .verify(slot, st.state_dir.clone(), creds.password, flight)
        .await
        .ok_or_else(|| ApiError::internal("the password check failed"))?;
    match verdict {
        Ok(true) if good_user => {
            if let Ok(mut t) = st.throttle.lock() {
                t.clear(source);
            }
            let mut sessions = st
                .sessions
                .lock()
                .map_err(|_| ApiError::internal("session store unavailable"))?;
            sessions.sweep(
                Instant::now(),
                st.options.session_idle,
                st.options.session_max,
            );
            tracing::info!(%source, "admin login");
            Ok(sessions.open(source, Instant::now()))
        }
        Ok(_) => Err(fail(st, source, n).await),
        Err(e) => {
            // The daemon's fault (say, a hash file it cannot read): not a
            // failed login, and not counted toward a ban.
            tracing::error!(error = %e, "cannot check the admin password");
            flight.uncount();
            Err(ApiError::new(
                503,
                "the admin password cannot be checked; see the daemon's log",
            ))
        }
    }
}

/// One attempt in flight for a source; ends it when dropped, even if the
/// request is cancelled or the check panics.
struct Flight {
    st: Arc<AdminState>,
    source: IpAddr,
}

impl Flight {
    /// Counts the attempt and marks the source in flight, or refuses it.
    fn begin(st: &AdminState, source: IpAddr) -> Result<usize, ApiError> {
        let opts = &st.options;
        let mut t = st
            .throttle
            .lock()
            .map_err(|_| ApiError::internal("login throttle unavailable"))?;
        t.begin(
            source,
            Instant::now(),
            opts.failure_window,
            opts.max_failures,
        )
        .map_err(|r| {
            let why = match r {
                Refusal::InFlight => "a login from this address is already being checked",
                Refusal::TooMany => "too many failed logins from this address",
            };
            ApiError::new(429, format!("{why}; try later"))
        })
    }

    fn uncount(&self) {
        if let Ok(mut t) = self.st.throttle.lock() {
            t.uncount(self.source);
        }
    }
}

impl Drop for Flight {
    fn drop(&mut self) {
        if let Ok(mut t) = self.st.throttle.lock() {
            t.end(self.source);
        }
    }
}

/// A wrong password, the `n`th attempt of `source`: waits (the source's
/// flight is still held), bans past the threshold; the refusal.
async fn fail(st: &Arc<AdminState>, source: IpAddr, n: usize) -> ApiError {
    let opts = &st.options;
    tracing::warn!(%source, failures = n, "admin login failed");
    let factor = u32::try_from(n).unwrap_or(u32::MAX);
    let delay = opts.delay_step.saturating_mul(factor).min(opts.delay_cap);
    tokio::time::sleep(delay).await;
    if n >= opts.max_failures {
        let secs = opts.ban_secs;
        let c = st.control.clone();
        match crate::api::json::blocking(c, move |c| c.login_ban(source, secs)).await {
            Ok(()) => tracing::warn!(%source, secs, "banned after repeated failed logins"),
            Err(e) => tracing::error!(%source, error = %e, "cannot ban after failed logins"),
        }
    }
    ApiError::new(401, "wrong username or password")
}

async fn api_login(
    State(st): State<Arc<AdminState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Body(creds): Body<Credentials>,
) -> Result<Response, ApiError> {
    let (id, csrf) = attempt(&st, peer.ip(), creds).await?;
    let max = st.options.session_max.as_secs();
    Ok((
        [(header::SET_COOKIE, session_cookie(&id, max))],
        Json(serde_json::json!({ "csrf": csrf })),
    )
        .into_response())
}

async fn api_logout(
    State(st): State<Arc<AdminState>>,
    Extension(ctx): Extension<SessionCtx>,
) -> Response {
    if let Ok(mut s) = st.sessions.lock() {
        s.close(&ctx.id);
    }
    (
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, session_cookie("", 0))],
    )
        .into_response()
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    /// Account name.
    pub username: String,
    /// Password.
    pub password: String,
    /// Must equal the `parvis_login` cookie.
    pub csrf: String,
}

/// `POST /login` (the form): on success a session and a redirect to `/`.
pub(crate) async fn form_login(
    State(st): State<Arc<AdminState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<LoginForm>,
) -> Response {
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !auth::same(&expected, &form.csrf) {
        return Redirect::to("/login?error=expired").into_response();
    }
    let creds = Credentials {
        username: form.username,
        password: form.password,
    };
    match attempt(&st, peer.ip(), creds).await {
        Ok((id, _)) => {
            let max = st.options.session_max.as_secs();
            (
                [(header::SET_COOKIE, session_cookie(&id, max))],
                Redirect::to("/"),
            )
                .into_response()
        }
        Err(e) if e.status == 429 || e.status == 503 => {
            Redirect::to("/login?error=locked").into_response()
        }
        Err(_) => Redirect::to("/login?error=wrong").into_response(),
    }
}

/// `POST /logout` (the form; the guard checked its CSRF field).
pub(crate) async fn form_logout(
    State(st): State<Arc<AdminState>>,
    Extension(ctx): Extension<SessionCtx>,
) -> Response {
    if let Ok(mut s) = st.sessions.lock() {
        s.close(&ctx.id);
    }
    (
        [(header::SET_COOKIE, session_cookie("", 0))],
        Redirect::to("/login"),
    )
        .into_response()
}
