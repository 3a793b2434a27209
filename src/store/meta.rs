//! What the store records about a version and about a pending change:
//! author, time, source, comment, state, and the pending deadline. Pure
//! (serde types, no I/O).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Who made a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Author {
    /// A user of the web UI or API (`ui:<user>`).
    Ui(String),
    /// `parvis apply` over the control socket.
    Cli,
    /// SIGHUP re-read the config file.
    Sighup,
    /// The config file at the very first start.
    FirstBoot,
    /// `parvis rollback` or the UI's rollback button.
    Rollback,
    /// The config file, changed since the daemon last read it, at a start.
    Startup,
    /// The pair's config sync: a partition's winner re-issued at a number
    /// above both nodes' histories.
    Sync,
}

impl Author {
    /// True if this version was read from the daemon's config file.
    pub fn is_file(&self) -> bool {
        matches!(self, Author::Sighup | Author::FirstBoot | Author::Startup)
    }
}

impl fmt::Display for Author {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Author::Ui(user) => write!(f, "ui:{user}"),
            Author::Cli => f.write_str("cli"),
            Author::Sighup => f.write_str("sighup"),
            Author::FirstBoot => f.write_str("first-boot"),
            Author::Rollback => f.write_str("rollback"),
            Author::Startup => f.write_str("startup"),
            Author::Sync => f.write_str("sync"),
        }
    }
}

impl FromStr for Author {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "cli" => Author::Cli,
            "sighup" => Author::Sighup,
            "first-boot" => Author::FirstBoot,
            "rollback" => Author::Rollback,
            "startup" => Author::Startup,
            "sync" => Author::Sync,
            _ => match s.strip_prefix("ui:") {
                Some(user) => Author::Ui(user.to_string()),
                None => return Err(format!("unknown author {s:?}")),
            },
        })
    }
}

impl From<Author> for String {
    fn from(a: Author) -> String {
        a.to_string()
    }
}

impl TryFrom<String> for Author {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

/// Where a version stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VersionState {
    /// Being applied, or applied and waiting for `confirm`.
    Pending,
    /// In force (or was, until a later version).
    Confirmed,
    /// Applied, then undone: no confirm in time, or an explicit rollback.
    RolledBack,
    /// Refused by a step, or interrupted; never in force.
    Failed,
}

impl fmt::Display for VersionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VersionState::Pending => "pending",
            VersionState::Confirmed => "confirmed",
            VersionState::RolledBack => "rolled-back",
            VersionState::Failed => "failed",
        })
    }
}

/// Who asks for a change, from where, and why: the part of a version's
/// metadata the caller gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Who.
    pub author: Author,
    /// The client address the change came from, if known (UI client, SSH client).
    pub source: Option<IpAddr>,
    /// Free text shown in the history.
    pub comment: String,
    /// Other addresses the change must not cut off besides `source` (not
    /// stored): for a SIGHUP, the peers of the established admin and SSH
    /// connections, since a signal has no client of its own.
    pub sessions: Vec<IpAddr>,
}

impl Origin {
    /// An origin without source address or comment.
    pub fn new(author: Author) -> Self {
        Origin {
            author,
            source: None,
            comment: String::new(),
            sessions: Vec::new(),
        }
    }
}

/// Everything recorded about one version (its `NNNNNN.meta.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionMeta {
    /// The version number, from 1.
    pub version: u64,
    /// When it was stored, RFC 3339 UTC.
    pub time: String,
    /// Who made it.
    pub author: Author,
    /// Client address, if known.
    pub source: Option<IpAddr>,
    /// Free text.
    pub comment: String,
    /// Where it stands.
    pub state: VersionState,
    /// Why it failed or was rolled back, if it did.
    #[serde(default)]
    pub reason: Option<String>,
    /// The pair's node it was made on, when it came from the peer (config
    /// sync); `None`: made here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// A change applied and waiting for `confirm` (the `pending.json` record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The version waiting.
    pub version: u64,
    /// The version restored if no confirm arrives.
    pub previous: u64,
    /// Wall-clock deadline, seconds since the UNIX epoch, so it survives a restart.
    pub deadline: u64,
    /// Sub-second part of the deadline, in milliseconds.
    #[serde(default)]
    pub deadline_ms: u32,
}

impl Pending {
    /// A record for `version` rolling back to `previous` at `deadline`.
    pub fn new(version: u64, previous: u64, deadline: SystemTime) -> Self {
        let since = deadline.duration_since(UNIX_EPOCH).unwrap_or_default();
        Pending {
            version,
            previous,
            deadline: since.as_secs(),
            deadline_ms: since.subsec_millis(),
        }
    }

    /// The deadline as a wall-clock time.
    pub fn deadline_time(&self) -> SystemTime {
        UNIX_EPOCH
            + Duration::from_secs(self.deadline)
            + Duration::from_millis(u64::from(self.deadline_ms))
    }
}

/// Formats a wall-clock time as RFC 3339 UTC (seconds precision).
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let fmt = time::format_description::well_known::Rfc3339;
    i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| format!("@{secs}"))
}

/// Formats a wall-clock time as `HH:MM:SS UTC`, for messages.
pub fn clock(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn author_round_trips() {
        for a in [
            Author::Ui("alice".into()),
            Author::Cli,
            Author::Sighup,
            Author::FirstBoot,
            Author::Rollback,
            Author::Startup,
            Author::Sync,
        ] {
            assert_eq!(a.to_string().parse::<Author>(), Ok(a));
        }
        assert!("nobody".parse::<Author>().is_err());
    }

    #[test]
    fn times_format() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20Z");
        assert_eq!(clock(t), "22:13:20 UTC");
        let p = Pending::new(3, 2, t + Duration::from_millis(250));
        assert_eq!(p.deadline_time(), t + Duration::from_millis(250));
    }
}
