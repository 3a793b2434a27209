//! Conversions from the change manager's and the store's types to the
//! API's: so the daemon's [`Control`] can hand [`crate::change::Changer`]
//! results straight through, with the HTTP status of each refusal decided
//! here. Pure.
//!
//! [`Control`]: crate::api::Control

use std::time::{SystemTime, UNIX_EPOCH};

use crate::api::export::{ExportView, NamedFile};
use crate::api::{
    ApiError, ApplyOutcome, Author, AuthorKind, EventView, PendingView, VersionState, VersionView,
    UI_USER,
};
use crate::change::{self, ChangeError, EventKind};
use crate::store;

/// The forwarder's per-route counters as `/metrics` rows.
pub fn route_counts(stats: &crate::forwarder::Stats) -> Vec<crate::api::RouteCountView> {
    let mut out = Vec::new();
    for (listener, routes) in &stats.routes {
        for (route, backends) in routes {
            for (backend, c) in backends {
                out.push(crate::api::RouteCountView {
                    listener: listener.clone(),
                    route: route.clone(),
                    backend: backend.clone(),
                    connections: c.connections,
                    bytes_in: c.bytes_in,
                    bytes_out: c.bytes_out,
                });
            }
        }
    }
    out
}

/// Every server's health-check transitions, to `up` and to `down`.
pub fn transitions(
    backends: &[crate::forwarder::BackendStatus],
) -> Vec<crate::api::HealthTransitionView> {
    let mut out = Vec::new();
    for b in backends {
        for s in &b.servers {
            for (to, count) in [("up", s.went_up), ("down", s.went_down)] {
                out.push(crate::api::HealthTransitionView {
                    backend: b.name.clone(),
                    server: s.addr,
                    to: to.to_string(),
                    count,
                });
            }
        }
    }
    out
}

/// Unix seconds of a wall-clock time (0 before the epoch).
pub fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// Who and why, as the store records it. The UI has one account, `admin`.
pub fn origin(author: Author, comment: &str) -> store::Origin {
    let who = match author.kind {
        AuthorKind::Ui => store::Author::Ui(UI_USER.to_string()),
        AuthorKind::Cli => store::Author::Cli,
        AuthorKind::Signal => store::Author::Sighup,
        AuthorKind::Daemon => store::Author::Startup,
    };
    store::Origin {
        author: who,
        source: author.source_addr,
        comment: comment.to_string(),
        sessions: Vec::new(),
    }
}

/// What an apply, rollback or reload did, as the API reports it.
pub fn outcome(o: &change::ApplyOutcome, now: SystemTime) -> ApplyOutcome {
    let lines = |c: &[change::Change]| c.iter().map(|c| c.to_string()).collect();
    match o {
        change::ApplyOutcome::Unchanged { version }
        | change::ApplyOutcome::RolledBack { version, .. } => ApplyOutcome {
            version: *version,
            pending_deadline_secs: None,
            changes: Vec::new(),
        },
        change::ApplyOutcome::Applied { version, changes } => ApplyOutcome {
            version: *version,
            pending_deadline_secs: None,
            changes: lines(changes),
        },
        change::ApplyOutcome::Pending {
            version,
            changes,
            deadline,
            ..
        } => ApplyOutcome {
            version: *version,
            pending_deadline_secs: Some(deadline.duration_since(now).unwrap_or_default().as_secs()),
            changes: lines(changes),
        },
    }
}

/// The HTTP answer to a refused or failed change: 422 for a config that
/// does not validate or pass the dry run, 409 for a clash with the state
/// (pending change, lock-out, nothing to confirm or roll back to), 500 for
/// a failure of the appliance itself.
pub fn error(e: &ChangeError) -> ApiError {
    let message = e.to_string();
    match e {
        ChangeError::Invalid(_) | ChangeError::CheckFailed { .. } => {
            ApiError::invalid_config(message)
        }
        ChangeError::PendingExists { .. }
        | ChangeError::LockOut { .. }
        | ChangeError::NothingPending
        | ChangeError::NothingToRollBackTo
        | ChangeError::NoPrevious
        | ChangeError::PeerRefused { .. }
        | ChangeError::Clash { .. } => ApiError::conflict(message),
        ChangeError::StepFailed { .. }
        | ChangeError::StoredInvalid { .. }
        | ChangeError::Read { .. }
        | ChangeError::Store(_) => ApiError::internal(message),
    }
}

/// One change-log line for the UI's log.
pub fn event(e: &change::Event) -> EventView {
    let kind = match e.kind {
        EventKind::Applied => "applied",
        EventKind::Pending => "pending",
        EventKind::Confirmed => "confirmed",
        EventKind::RolledBack => "rolled-back",
        EventKind::Failed => "failed",
        EventKind::Refused => "refused",
        EventKind::Restored => "restored",
    };
    EventView {
        time: unix(e.time),
        kind: kind.to_string(),
        message: e.message.clone(),
    }
}

/// A stored version for the history; `current` is the version in force
/// (a confirmed version that is not current was superseded).
pub fn version(meta: &store::VersionMeta, current: Option<u64>) -> VersionView {
    let fmt = time::format_description::well_known::Rfc3339;
    let time = time::OffsetDateTime::parse(&meta.time, &fmt)
        .ok()
        .and_then(|t| u64::try_from(t.unix_timestamp()).ok())
        .unwrap_or(0);
    let state = match meta.state {
        store::VersionState::Pending => VersionState::Pending,
        store::VersionState::Confirmed if current == Some(meta.version) => VersionState::Running,
        store::VersionState::Confirmed => VersionState::Superseded,
        store::VersionState::RolledBack => VersionState::RolledBack,
        store::VersionState::Failed => VersionState::Failed,
    };
    let author = match meta.source {
        Some(ip) => format!("{} {ip}", meta.author),
        None => meta.author.to_string(),
    };
    let comment = match &meta.reason {
        Some(r) if meta.comment.is_empty() => r.clone(),
        Some(r) => format!("{} ({r})", meta.comment),
        None => meta.comment.clone(),
    };
    VersionView {
        version: meta.version,
        time,
        author,
        comment,
        state,
    }
}

/// The pending record for the status.
pub fn pending(p: &store::Pending, now: SystemTime) -> PendingView {
    PendingView {
        version: p.version,
        deadline_secs: p
            .deadline_time()
            .duration_since(now)
            .unwrap_or_default()
            .as_secs(),
    }
}

/// `parvis export`'s answer: the running `text` (secrets included) with
/// the keys of its secrets and the files `cfg` names.
pub(super) fn export(cfg: &crate::config::Config, text: String, version: u64) -> ExportView {
    ExportView {
        version,
        text,
        secrets: cfg.inline_secrets().into_iter().map(String::from).collect(),
        files: cfg
            .named_files()
            .into_iter()
            .map(|(key, path)| NamedFile {
                key: key.to_string(),
                path: path.display().to_string(),
            })
            .collect(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn refusals_get_the_right_status() {
        let cfg_err = crate::config::parse("nonsense = = 1").err().unwrap();
        assert_eq!(error(&ChangeError::Invalid(cfg_err)).status, 422);
        assert_eq!(error(&ChangeError::NothingPending).status, 409);
        let lock = ChangeError::LockOut {
            reason: "admin.allow no longer has 198.51.100.10".into(),
        };
        assert_eq!(error(&lock).status, 409);
        assert!(error(&lock).message.contains("force"));
    }

    #[test]
    fn versions_and_pending_read_as_views() {
        let t = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let meta = store::VersionMeta {
            version: 3,
            time: store::rfc3339(t),
            author: store::Author::Ui("admin".into()),
            source: Some("198.51.100.10".parse().unwrap()),
            comment: "add a route".into(),
            state: store::VersionState::Confirmed,
            reason: None,
            node: None,
        };
        let v = version(&meta, Some(3));
        assert_eq!((v.time, v.state), (1_800_000_000, VersionState::Running));
        assert_eq!(v.author, "ui:admin 198.51.100.10");
        assert_eq!(version(&meta, Some(4)).state, VersionState::Superseded);
        let p = store::Pending::new(4, 3, t + Duration::from_secs(90));
        assert_eq!(pending(&p, t).deadline_secs, 90);
        let o = change::ApplyOutcome::Pending {
            version: 4,
            previous: 3,
            changes: vec![],
            deadline: t + Duration::from_secs(60),
        };
        assert_eq!(outcome(&o, t).pending_deadline_secs, Some(60));
        let a = Author {
            kind: AuthorKind::Ui,
            source_addr: Some("198.51.100.10".parse().unwrap()),
        };
        let og = origin(a, "why");
        assert_eq!(og.author.to_string(), "ui:admin");
        assert_eq!(og.source, a.source_addr);
    }
}
