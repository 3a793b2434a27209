//! The seam between the daemon and its operators: the [`Control`] trait the
//! daemon implements, the view types it returns (`views`), who asked for
//! a change ([`Author`]) and the error every API call may give
//! ([`ApiError`]). The web UI, the JSON API, the control socket and the
//! metrics all read the appliance through [`Control`] only. Its renderings
//! live here too: [`json`] (the `/api/v1` router that the admin port and
//! the control socket both serve), [`metrics`] (Prometheus text) and
//! [`text`] (figures for the UI and the CLI). Depends on `config` only;
//! the daemon's side (converting its own types to views) is in `daemon`.
//! Pure, apart from the router's blocking-thread hand-off.

pub mod export;
pub mod ha;
pub mod json;
pub mod messages;
pub mod metrics;
mod metrics_routes;
mod prom;
pub mod text;
pub mod tokens;
mod views;

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

pub use views::*;

/// A boxed future, so that [`Control`] stays object-safe (`Arc<dyn Control>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The daemon as the admin UI, the API and the CLI see it.
///
/// The plain getters are snapshots and must be cheap. The `Result` getters
/// and the ban calls may block (they may run `nft`): the admin module
/// calls them on a blocking thread. The change operations are async.
pub trait Control: Send + Sync + 'static {
    /// Name, version, uptime, ports, listeners, pending change, warnings.
    fn status(&self) -> StatusView;
    /// The routes of the running config.
    fn routes(&self) -> Vec<RouteView>;
    /// The backends with their servers' health and counters.
    fn backends(&self) -> Vec<BackendView>;
    /// The live forwarded connections.
    fn connections(&self) -> Vec<ConnView>;
    /// Connection rate and active connections over the last minutes.
    fn series(&self) -> SeriesView;
    /// Recent events, oldest first.
    fn events(&self) -> Vec<EventView>;
    /// The running config, TOML text as applied.
    fn config_text(&self) -> String;
    /// The running config as parsed (the UI's pages read settings from
    /// it). Default: the redacted text parsed, which fails for a text
    /// with masked secrets.
    fn running_config(&self) -> Option<std::sync::Arc<crate::config::Config>> {
        crate::config::parse(&self.config_text())
            .ok()
            .map(std::sync::Arc::new)
    }
    /// The running config with its secrets, for `parvis export` on the
    /// root-only control socket ([`export`]). Default: none.
    fn export(&self) -> Option<export::ExportView> {
        None
    }
    /// The config versions, oldest first.
    fn history(&self) -> Vec<VersionView>;
    /// The text of one config version; `None` if there is no such version.
    fn version_text(&self, version: u64) -> Option<String>;
    /// The nftables table with per-rule counters. May block.
    fn ruleset(&self) -> Result<RulesetView, ApiError>;
    /// The banned sources. May block.
    fn bans(&self) -> Result<Vec<BanView>, ApiError>;
    /// Bans `addr` for `secs` seconds in the firewall's ban set. May block.
    fn ban_add(&self, addr: IpAddr, secs: u64) -> Result<(), ApiError>;
    /// The admin login guard's ban: `addr` loses new connections to the
    /// admin port and SSH for `secs` seconds, never the public sites. May
    /// block.
    fn login_ban(&self, addr: IpAddr, secs: u64) -> Result<(), ApiError>;
    /// Lifts the bans (both kinds) on `addr`. May block.
    fn ban_del(&self, addr: IpAddr) -> Result<(), ApiError>;
    /// Records one line in the event log (`kind` as in [`EventView`]),
    /// e.g. each use of an API token. Default: nothing.
    fn note(&self, kind: &str, message: String) {
        let _ = (kind, message);
    }
    /// Drains (`on`) or undrains a backend's server (`ADDR:PORT`): no new
    /// connection goes to it. Unknown backend or server: 400.
    fn drain(&self, backend: &str, server: &str, on: bool) -> Result<(), ApiError> {
        let _ = (backend, server, on);
        Err(ApiError::unavailable("draining is not available here"))
    }
    /// The latest finished connections of the connection log that match,
    /// newest first. Default: none.
    fn conn_log(&self, filter: &ConnLogFilter) -> Vec<serde_json::Value> {
        let _ = filter;
        Vec::new()
    }
    /// Figures for `/metrics` that the views do not carry. Default: none.
    fn metrics(&self) -> MetricsView {
        MetricsView::default()
    }
    /// The HA pair as this node sees it; `None` without `[ha]`. Default: none.
    fn ha(&self) -> Option<crate::api::ha::HaView> {
        None
    }
    /// Planned handover of both VIPs to the peer (`parvis ha handover`).
    /// Default: not a pair.
    fn ha_handover(&self) -> BoxFuture<'_, Result<String, ApiError>> {
        Box::pin(async {
            Err(ApiError::not_found(
                "this appliance is not one of a pair (no [ha])",
            ))
        })
    }
    /// Checks a config without applying it. Default: [`check_text`].
    fn check(&self, text: &str) -> CheckResult {
        check_text(text)
    }
    /// Applies a new config (validate, diff, carry out, record in history;
    /// with `confirm_within_secs`, roll back unless confirmed in time).
    fn apply(
        &self,
        req: ApplyRequest,
        author: Author,
    ) -> BoxFuture<'_, Result<ApplyOutcome, ApiError>>;
    /// Confirms the pending change.
    fn confirm(&self, author: Author) -> BoxFuture<'_, Result<ConfirmOutcome, ApiError>>;
    /// Goes back to `version`, or to the version before the running one.
    fn rollback(
        &self,
        version: Option<u64>,
        author: Author,
    ) -> BoxFuture<'_, Result<ApplyOutcome, ApiError>>;
}

/// `GET /api/v1/log?client=&host=&end=&limit=`: which connection log lines.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnLogFilter {
    /// A substring of the client address.
    #[serde(default)]
    pub client: String,
    /// A substring of the SNI or Host.
    #[serde(default)]
    pub host: String,
    /// An end reason, exactly (`client_closed`, ...).
    #[serde(default)]
    pub end: String,
    /// At most this many lines (default and cap 500).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Where a change came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthorKind {
    /// The web UI or the HTTPS API, with a session.
    Ui,
    /// The control socket (`parvis apply`, ...).
    Cli,
    /// SIGHUP.
    Signal,
    /// The daemon itself (start-up, automatic rollback).
    Daemon,
}

/// The web UI's one account: the admin login checks it and the history
/// records the UI's changes under it.
pub const UI_USER: &str = "admin";

/// Who asked for a change: recorded in the history and the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    /// Through which door.
    pub kind: AuthorKind,
    /// The client address, for the UI.
    pub source_addr: Option<IpAddr>,
}

impl fmt::Display for Author {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            AuthorKind::Ui => "ui",
            AuthorKind::Cli => "cli",
            AuthorKind::Signal => "sighup",
            AuthorKind::Daemon => "daemon",
        };
        match self.source_addr {
            Some(addr) => write!(f, "{kind} {addr}"),
            None => f.write_str(kind),
        }
    }
}

/// An API failure: the HTTP status, a message for a person and, for bad
/// input, the field it is about. Serialised as
/// `{"error": "...", "field": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// HTTP status code.
    #[serde(skip)]
    pub status: u16,
    /// What went wrong, naming the field where there is one.
    #[serde(rename = "error")]
    pub message: String,
    /// The input field at fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    /// Any status and message.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            field: None,
        }
    }
    /// 400: `field` is wrong; the message is prefixed with the field name.
    pub fn field(field: &str, message: impl fmt::Display) -> Self {
        ApiError {
            status: 400,
            message: format!("{field}: {message}"),
            field: Some(field.to_string()),
        }
    }
    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, message)
    }
    /// 409: the request clashes with the state (nothing pending, ...).
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, message)
    }
    /// 422: a config that does not validate; the problems in the message.
    pub fn invalid_config(message: impl Into<String>) -> Self {
        ApiError {
            status: 422,
            message: message.into(),
            field: Some("config".into()),
        }
    }
    /// 500: the daemon failed (nft refused, I/O error, ...).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, message)
    }
    /// 503: the part that would answer is not running.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(503, message)
    }
}

/// Checks TOML text with [`crate::config::parse`].
pub fn check_text(text: &str) -> CheckResult {
    match crate::config::parse(text) {
        Ok(_) => CheckResult {
            ok: true,
            problems: Vec::new(),
        },
        Err(e) => CheckResult {
            ok: false,
            problems: e
                .problems
                .into_iter()
                .map(|p| {
                    let keyed = messages::classify(&p.message);
                    CheckProblem {
                        line: p.line,
                        path: p.path,
                        message: p.message,
                        code: keyed.as_ref().map(|k| k.code.clone()),
                        params: keyed.map(|k| k.params_json()),
                    }
                })
                .collect(),
        },
    }
}

/// A unified diff of two config texts (3 lines of context), empty when
/// they are the same.
pub fn diff_text(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    if old == new {
        return String::new();
    }
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn author_display_names_the_door_and_source() {
        let a = Author {
            kind: AuthorKind::Ui,
            source_addr: Some("198.51.100.10".parse().unwrap()),
        };
        assert_eq!(a.to_string(), "ui 198.51.100.10");
        let c = Author {
            kind: AuthorKind::Cli,
            source_addr: None,
        };
        assert_eq!(c.to_string(), "cli");
    }

    #[test]
    fn api_error_serialises_message_and_field() {
        let e = ApiError::field("addr", "not an IP address");
        let j = serde_json::to_value(&e).unwrap();
        assert_eq!(j["error"], "addr: not an IP address");
        assert_eq!(j["field"], "addr");
        assert_eq!(e.status, 400);
    }

    #[test]
    fn check_text_reports_lines() {
        let r = check_text("[[listener]]\nname = \"x\"\nbind = \"nope\"\nprotocol = \"tls\"\n");
        assert!(!r.ok);
        assert!(r.problems.iter().any(|p| p.line == Some(3)), "{r:?}");
    }

    #[test]
    fn diff_text_is_empty_for_same_text() {
        assert_eq!(diff_text("a\n", "a\n", "x", "y"), "");
        let d = diff_text("a\nb\n", "a\nc\n", "running", "edited");
        assert!(d.contains("-b") && d.contains("+c"), "{d}");
    }
}
