//! What an apply, confirm or rollback reports: the outcome, the error, and
//! the events the UI log shows. Pure (types).

use std::time::SystemTime;

use super::{Change, Step};
use crate::config::ConfigError;
use crate::store::{clock, StoreError};

/// What a successful apply did.
#[derive(Debug, Clone, PartialEq)]
pub enum ApplyOutcome {
    /// The text is the one already running: nothing stored, nothing done.
    Unchanged {
        /// The running version.
        version: u64,
    },
    /// Applied and confirmed (no deadline asked).
    Applied {
        /// The new version.
        version: u64,
        /// What changed.
        changes: Vec<Change>,
    },
    /// Applied; rolled back at `deadline` unless confirmed.
    Pending {
        /// The new version.
        version: u64,
        /// The version restored if no confirm arrives.
        previous: u64,
        /// What changed.
        changes: Vec<Change>,
        /// When it rolls back.
        deadline: SystemTime,
    },
    /// `rollback` undid the pending change.
    RolledBack {
        /// The version undone.
        undone: u64,
        /// The version back in force.
        version: u64,
    },
}

impl ApplyOutcome {
    /// The version now running.
    pub fn version(&self) -> u64 {
        match self {
            ApplyOutcome::Unchanged { version }
            | ApplyOutcome::Applied { version, .. }
            | ApplyOutcome::Pending { version, .. }
            | ApplyOutcome::RolledBack { version, .. } => *version,
        }
    }
}

/// Why a change was refused or failed. In every case the previous version
/// stays (or is put back) in force.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// The text is not a valid config.
    #[error("invalid config: {0}")]
    Invalid(#[from] ConfigError),
    /// Another change is waiting for confirmation.
    #[error("version {version} is pending confirmation until {}; confirm or roll back first", clock(*deadline))]
    PendingExists {
        /// The pending version.
        version: u64,
        /// Its deadline.
        deadline: SystemTime,
    },
    /// The safety net: the change would cut the caller's own access.
    #[error("refused: {reason}; force it to apply anyway (it then rolls back unless confirmed)")]
    LockOut {
        /// What would be cut.
        reason: String,
    },
    /// The dry-run check refused the new version (stored as `failed`).
    #[error("version {version} refused by the check: {message}")]
    CheckFailed {
        /// The stored (failed) version.
        version: u64,
        /// The check's message.
        message: String,
    },
    /// A step failed; the steps already done were undone (stored as `failed`).
    #[error(
        "version {version} failed at the {step} step: {message}{}",
        undo_text(undo_failures)
    )]
    StepFailed {
        /// The stored (failed) version.
        version: u64,
        /// The step that failed.
        step: Step,
        /// The step's own message.
        message: String,
        /// Undo steps that failed too (the system may then be mixed until a restart).
        undo_failures: Vec<(Step, String)>,
    },
    /// `confirm` or a deadline asked with nothing to confirm.
    #[error("no change is pending confirmation")]
    NothingPending,
    /// A confirmation deadline needs a version to go back to.
    #[error("no confirmed version is running, so there is nothing to roll back to")]
    NothingToRollBackTo,
    /// `rollback` without a version, and no earlier confirmed version exists.
    #[error("there is no earlier confirmed version to go back to")]
    NoPrevious,
    /// A stored version no longer parses (e.g. after an upgrade changed the schema).
    #[error("stored version {version} is not a valid config any more: {problem}")]
    StoredInvalid {
        /// The version.
        version: u64,
        /// Why.
        problem: ConfigError,
    },
    /// The config file could not be read (SIGHUP).
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The pair's other node refused the change (config sync): invalid
    /// there, a change of its own pending, or busy with one.
    #[error("refused by the peer {peer}: {message}")]
    PeerRefused {
        /// The peer's name.
        peer: String,
        /// Its reason.
        message: String,
    },
    /// A version from the peer cannot take its number here (config sync).
    #[error("version {version} from the peer clashes with this node's history: {message}")]
    Clash {
        /// The version.
        version: u64,
        /// Why.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn undo_text(failures: &[(Step, String)]) -> String {
    if failures.is_empty() {
        return "; the previous version is back in force".into();
    }
    let list: Vec<String> = failures.iter().map(|(s, m)| format!("{s}: {m}")).collect();
    format!(
        "; undoing failed too ({}): the next start restores a complete version",
        list.join("; ")
    )
}

/// What kind of thing happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A version was applied and confirmed at once.
    Applied,
    /// A version was applied and waits for confirmation.
    Pending,
    /// A pending version was confirmed.
    Confirmed,
    /// A pending version was rolled back (deadline or request).
    RolledBack,
    /// A change failed and was undone.
    Failed,
    /// A change was refused before touching anything.
    Refused,
    /// At startup, a stored version was put (back) in force.
    Restored,
}

/// One line of the change log, for the UI and the journal.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// When.
    pub time: SystemTime,
    /// What kind.
    pub kind: EventKind,
    /// The version concerned, if any.
    pub version: Option<u64>,
    /// The message for the log.
    pub message: String,
}
