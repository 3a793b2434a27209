//! The JSON API (`/api/v1/...`) as an axum router over a [`Control`]:
//! shared by the HTTPS admin port (behind the session guard) and the
//! control socket (no guard: the socket is root-only). Every input is
//! checked here, with a message naming the field. No I/O of its own.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{FromRequest, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::api::{diff_text, ApiError, ApplyRequest, Author, AuthorKind, Control};

/// Longest comment kept in the history.
const MAX_COMMENT: usize = 500;
/// Longest manual ban: 30 days.
const MAX_BAN_SECS: u64 = 30 * 24 * 3600;
/// Longest confirm window: one day.
const MAX_CONFIRM_SECS: u64 = 24 * 3600;

type Ctl = State<Arc<dyn Control>>;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self)).into_response()
    }
}

/// A JSON body whose rejections are [`ApiError`]s (JSON, naming the field).
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(rej) => Err(ApiError::new(rej.status().as_u16(), rej.body_text())),
        }
    }
}

/// The `/api/v1` routes (to be nested there), with the state applied:
/// what the admin port serves (behind its guard).
pub fn router(control: Arc<dyn Control>) -> Router {
    routes().with_state(control)
}

/// [`router`] and `GET /export` (the config with its secrets): what the
/// root-only control socket serves.
pub fn socket_router(control: Arc<dyn Control>) -> Router {
    routes()
        .route("/export", get(super::export::export))
        .with_state(control)
}

fn routes() -> Router<Arc<dyn Control>> {
    Router::new()
        .route(
            "/status",
            get(|State(c): Ctl| async move { Json(c.status()) }),
        )
        .route(
            "/routes",
            get(|State(c): Ctl| async move { Json(c.routes()) }),
        )
        .route(
            "/backends",
            get(|State(c): Ctl| async move { Json(c.backends()) }),
        )
        .route(
            "/connections",
            get(|State(c): Ctl| async move { Json(c.connections()) }),
        )
        .route(
            "/series",
            get(|State(c): Ctl| async move { Json(c.series()) }),
        )
        .route(
            "/events",
            get(|State(c): Ctl| async move { Json(c.events()) }),
        )
        .route(
            "/history",
            get(|State(c): Ctl| async move { Json(c.history()) }),
        )
        .route("/config", get(config))
        .route("/history/{version}", get(version))
        .route("/history/{version}/diff", get(version_diff))
        .route("/diff", post(diff))
        .route("/check", post(check))
        .route("/apply", post(apply))
        .route("/confirm", post(confirm))
        .route("/rollback", post(rollback))
        .route("/ruleset", get(ruleset))
        .route("/bans", get(bans).post(ban_add))
        .route("/bans/{addr}", delete(ban_del))
        .route("/backends/{backend}/servers/{server}/drain", post(drain))
        .route(
            "/backends/{backend}/servers/{server}/undrain",
            post(undrain),
        )
        .route("/log", get(conn_log))
        .route("/ha", get(ha))
        .route("/ha/handover", post(ha_handover))
        .fallback(|| async { ApiError::not_found("no such API route") })
}

/// A config's text with its version.
#[derive(Debug, Serialize, Deserialize)]
pub struct ConfigText {
    /// Version number (0: the running config before any history).
    pub version: u64,
    /// TOML text.
    pub text: String,
}

/// A body carrying a config text.
#[derive(Debug, Serialize, Deserialize)]
pub struct ConfigBody {
    /// TOML text.
    pub config: String,
}

/// A diff for the UI.
#[derive(Debug, Serialize, Deserialize)]
pub struct DiffText {
    /// Unified diff, empty when the same.
    pub diff: String,
}

/// `POST /bans`.
#[derive(Debug, Serialize, Deserialize)]
pub struct BanRequest {
    /// IPv4 or IPv6 address.
    pub addr: String,
    /// Seconds, 1 to 30 days.
    pub secs: u64,
}

/// `POST /rollback`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RollbackRequest {
    /// The version to go back to; none: the one before the running one.
    #[serde(default)]
    pub version: Option<u64>,
}

async fn config(State(c): Ctl) -> Json<ConfigText> {
    let version = c.status().config_version;
    Json(ConfigText {
        version,
        text: c.config_text(),
    })
}

async fn version(State(c): Ctl, Path(v): Path<String>) -> Result<Json<ConfigText>, ApiError> {
    let version = parse_version(&v)?;
    let text = c
        .version_text(version)
        .ok_or_else(|| ApiError::not_found(format!("version: no config version {version}")))?;
    Ok(Json(ConfigText { version, text }))
}

async fn version_diff(State(c): Ctl, Path(v): Path<String>) -> Result<Json<DiffText>, ApiError> {
    let version = parse_version(&v)?;
    let new = c
        .version_text(version)
        .ok_or_else(|| ApiError::not_found(format!("version: no config version {version}")))?;
    let old = c
        .version_text(version.saturating_sub(1))
        .unwrap_or_default();
    let diff = diff_text(
        &old,
        &new,
        &format!("version {}", version.saturating_sub(1)),
        &format!("version {version}"),
    );
    Ok(Json(DiffText { diff }))
}

fn parse_version(v: &str) -> Result<u64, ApiError> {
    v.parse::<u64>()
        .map_err(|_| ApiError::field("version", format!("{v:?} is not a version number")))
}

// Parsing, checking and diffing a config is CPU work proportional to its
// size: it runs on a blocking thread, never on the async workers that also
// carry the forwarder's connections (two 1 MiB checks stalled new TLS
// connections for about 4 s).
async fn diff(State(c): Ctl, Body(b): Body<ConfigBody>) -> Result<Json<DiffText>, ApiError> {
    let diff = blocking(c, move |c| {
        Ok(diff_text(&c.config_text(), &b.config, "running", "edited"))
    })
    .await?;
    Ok(Json(DiffText { diff }))
}

async fn check(State(c): Ctl, Body(b): Body<ConfigBody>) -> Result<Response, ApiError> {
    let result = blocking(c, move |c| Ok(c.check(&b.config))).await?;
    Ok(Json(result).into_response())
}

/// Checks an apply request's fields.
pub fn validate_apply(req: &ApplyRequest) -> Result<(), ApiError> {
    if req.config.trim().is_empty() {
        return Err(ApiError::field("config", "is empty"));
    }
    if req.comment.chars().count() > MAX_COMMENT {
        return Err(ApiError::field(
            "comment",
            format!("longer than {MAX_COMMENT} characters"),
        ));
    }
    if req.comment.chars().any(char::is_control) {
        return Err(ApiError::field("comment", "contains control characters"));
    }
    match req.confirm_within_secs {
        Some(s) if s == 0 || s > MAX_CONFIRM_SECS => Err(ApiError::field(
            "confirm_within_secs",
            format!("must be between 1 and {MAX_CONFIRM_SECS}"),
        )),
        _ => Ok(()),
    }
}

fn author_of(ext: Option<Extension<Author>>) -> Author {
    ext.map(|Extension(a)| a).unwrap_or(Author {
        kind: AuthorKind::Daemon,
        source_addr: None,
    })
}

async fn apply(
    State(c): Ctl,
    author: Option<Extension<Author>>,
    Body(req): Body<ApplyRequest>,
) -> Result<Response, ApiError> {
    validate_apply(&req)?;
    let outcome = c.apply(req, author_of(author)).await?;
    Ok(Json(outcome).into_response())
}

async fn confirm(State(c): Ctl, author: Option<Extension<Author>>) -> Result<Response, ApiError> {
    let outcome = c.confirm(author_of(author)).await?;
    Ok(Json(outcome).into_response())
}

async fn rollback(
    State(c): Ctl,
    author: Option<Extension<Author>>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    // The body is optional: `parvis rollback` without a version may send none.
    let req: RollbackRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RollbackRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::field("version", e))?
    };
    let version = req.version;
    if version == Some(0) {
        return Err(ApiError::field("version", "versions start at 1"));
    }
    let outcome = c.rollback(version, author_of(author)).await?;
    Ok(Json(outcome).into_response())
}

async fn ha(State(c): Ctl) -> Result<Response, ApiError> {
    let v = c
        .ha()
        .ok_or_else(|| ApiError::not_found("this appliance is not one of a pair (no [ha])"))?;
    Ok(Json(v).into_response())
}

async fn ha_handover(State(c): Ctl) -> Result<Response, ApiError> {
    let message = c.ha_handover().await?;
    Ok(Json(serde_json::json!({ "message": message })).into_response())
}

/// Runs a blocking [`Control`] call on a blocking thread.
pub async fn blocking<T: Send + 'static>(
    c: Arc<dyn Control>,
    f: impl FnOnce(&dyn Control) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(move || f(c.as_ref()))
        .await
        .map_err(|e| ApiError::internal(format!("the call failed: {e}")))?
}

async fn ruleset(State(c): Ctl) -> Result<Response, ApiError> {
    let r = blocking(c, |c| c.ruleset()).await?;
    Ok(Json(r).into_response())
}

async fn bans(State(c): Ctl) -> Result<Response, ApiError> {
    let r = blocking(c, |c| c.bans()).await?;
    Ok(Json(r).into_response())
}

/// Parses an address field (v4-mapped v6 becomes v4).
pub fn parse_addr(field: &str, s: &str) -> Result<IpAddr, ApiError> {
    s.trim()
        .parse::<IpAddr>()
        .map(crate::config::canonical_ip)
        .map_err(|_| ApiError::field(field, format!("{s:?} is not an IP address")))
}

/// Checks a ban duration.
pub fn check_ban_secs(secs: u64) -> Result<u64, ApiError> {
    if secs == 0 || secs > MAX_BAN_SECS {
        return Err(ApiError::field(
            "secs",
            format!("must be between 1 and {MAX_BAN_SECS}"),
        ));
    }
    Ok(secs)
}

async fn ban_add(State(c): Ctl, Body(b): Body<BanRequest>) -> Result<Response, ApiError> {
    let addr = parse_addr("addr", &b.addr)?;
    let secs = check_ban_secs(b.secs)?;
    blocking(c, move |c| c.ban_add(addr, secs)).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"addr": addr, "secs": secs})),
    )
        .into_response())
}

async fn ban_del(State(c): Ctl, Path(a): Path<String>) -> Result<Response, ApiError> {
    let addr = parse_addr("addr", &a)?;
    blocking(c, move |c| c.ban_del(addr)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn drain(State(c): Ctl, Path((b, s)): Path<(String, String)>) -> Result<Response, ApiError> {
    set_drained(c, b, s, true).await
}

async fn undrain(
    State(c): Ctl,
    Path((b, s)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    set_drained(c, b, s, false).await
}

async fn set_drained(
    c: Arc<dyn Control>,
    backend: String,
    server: String,
    on: bool,
) -> Result<Response, ApiError> {
    let (b, s) = (backend.clone(), server.clone());
    blocking(c, move |c| c.drain(&b, &s, on)).await?;
    let body = serde_json::json!({"backend": backend, "server": server, "drained": on});
    Ok(Json(body).into_response())
}

async fn conn_log(
    State(c): Ctl,
    axum::extract::Query(f): axum::extract::Query<crate::api::ConnLogFilter>,
) -> Json<Vec<serde_json::Value>> {
    Json(c.conn_log(&f))
}
