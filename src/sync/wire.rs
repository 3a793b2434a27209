//! What the two nodes say to each other: one request and one answer per
//! connection, each a JSON document behind a 4-byte big-endian length.
//! The types are pure; [`read`] and [`write`] do the stream I/O.

use std::net::IpAddr;

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::SyncError;
use crate::store::VersionMeta;

/// Largest frame accepted: history listings and configs are far smaller.
pub const MAX_FRAME: u32 = 8 << 20;
/// Most bans sent (and taken) in one `Bans` request.
pub const MAX_BANS: usize = 4096;

/// A node's config state, as its heartbeat tells it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeState {
    /// `ha.node[].name`.
    pub name: String,
    /// VRRP role as the node knows it (`MASTER`, `BACKUP`, `FAULT`, `unknown`).
    pub role: String,
    /// The version in force (0: none).
    pub running: u64,
    /// SHA-256 (hex) of the text in force.
    pub hash: String,
    /// When the version in force was stored (RFC 3339), to break ties.
    pub time: String,
    /// The highest version number in the node's history.
    pub last: u64,
    /// The version waiting for confirmation, if any.
    pub pending: Option<u64>,
    /// Milliseconds left before the pending version rolls back.
    #[serde(default)]
    pub pending_ms: Option<u64>,
    /// Random per daemon start: a change tells that the peer restarted.
    #[serde(default)]
    pub boot: u64,
}

/// One history entry: metadata and text, copied with its number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The version's metadata (number, author, time, state...).
    pub meta: VersionMeta,
    /// The TOML text.
    pub text: String,
}

/// One line of a history listing: the metadata and the text's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listed {
    /// The version's metadata.
    pub meta: VersionMeta,
    /// SHA-256 (hex) of its text.
    pub hash: String,
}

/// One ban carried to the peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanEntry {
    /// The source (or its IPv6 prefix's first address).
    pub addr: IpAddr,
    /// Seconds.
    pub secs: u64,
    /// Only the admin port and SSH (the login guard's ban); else everything.
    #[serde(default)]
    pub admin: bool,
}

/// What a node asks its peer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Request {
    /// Heartbeat: my state; the answer is the peer's.
    Hello(NodeState),
    /// Validate `text` (parse and dry-run check); the answer carries the
    /// peer's highest version number, so the new version goes above both.
    Prepare {
        /// The config text.
        text: String,
    },
    /// Put this version in force with exactly its number; with
    /// `within_ms`, pending until confirmed (the same deadline as here).
    Commit {
        /// The version.
        entry: Entry,
        /// Milliseconds left before it rolls back unless confirmed.
        within_ms: Option<u64>,
        /// The node that made it.
        from: String,
    },
    /// The pending `version` was confirmed here.
    Confirm {
        /// The version.
        version: u64,
    },
    /// The pending `version` was rolled back here.
    Rollback {
        /// The version.
        version: u64,
    },
    /// The peer's whole history, as metadata and hashes.
    List,
    /// These versions' texts.
    Fetch {
        /// Version numbers.
        versions: Vec<u64>,
    },
    /// Bans (operator or login guard), one or many.
    Bans {
        /// The bans.
        bans: Vec<BanEntry>,
    },
    /// Lift the ban on `addr`.
    Unban {
        /// The source.
        addr: IpAddr,
    },
    /// Planned handover: relay the asking node's user-space connections
    /// back to it for `ms` milliseconds (0: stop now), see `ha::drain`.
    Relay {
        /// Milliseconds.
        ms: u64,
    },
}

/// The peer's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "kebab-case")]
pub enum Response {
    /// To `Hello`.
    State(NodeState),
    /// To `Prepare`: valid; the peer's highest version number.
    Prepared {
        /// The peer's highest version number.
        last: u64,
    },
    /// Done (commit, confirm, rollback, ban).
    Done,
    /// To `List`.
    Listing {
        /// Oldest first.
        versions: Vec<Listed>,
    },
    /// To `Fetch`.
    Entries {
        /// The versions found.
        entries: Vec<Entry>,
    },
    /// Refused, with the reason for the operator.
    Refused {
        /// Why.
        message: String,
    },
}

/// Writes one frame.
pub async fn write<W: AsyncWrite + Unpin, T: Serialize>(
    w: &mut W,
    value: &T,
) -> Result<(), SyncError> {
    let body = serde_json::to_vec(value).map_err(|e| SyncError::Protocol(e.to_string()))?;
    let len = u32::try_from(body.len())
        .ok()
        .filter(|&n| n <= MAX_FRAME)
        .ok_or_else(|| {
            SyncError::Protocol(format!("message of {} bytes is too large", body.len()))
        })?;
    w.write_all(&len.to_be_bytes())
        .await
        .map_err(SyncError::Io)?;
    w.write_all(&body).await.map_err(SyncError::Io)?;
    w.flush().await.map_err(SyncError::Io)
}

/// Reads one frame.
pub async fn read<R: AsyncRead + Unpin, T: DeserializeOwned>(r: &mut R) -> Result<T, SyncError> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).await.map_err(SyncError::Io)?;
    let len = u32::from_be_bytes(len);
    if len > MAX_FRAME {
        return Err(SyncError::Protocol(format!(
            "frame of {len} bytes announced (at most {MAX_FRAME})"
        )));
    }
    let mut body = vec![0u8; len as usize];
    r.read_exact(&mut body).await.map_err(SyncError::Io)?;
    serde_json::from_slice(&body).map_err(|e| SyncError::Protocol(e.to_string()))
}

/// SHA-256 of a text, hex.
pub fn hash(text: &str) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(text.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_round_trip_and_oversize_is_refused() {
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        let req = Request::Confirm { version: 7 };
        write(&mut a, &req).await.unwrap();
        let got: Request = read(&mut b).await.unwrap();
        assert_eq!(got, req);
        a.write_all(&(MAX_FRAME + 1).to_be_bytes()).await.unwrap();
        let e = read::<_, Request>(&mut b).await.unwrap_err().to_string();
        assert!(e.contains("announced"), "{e}");
    }
}
