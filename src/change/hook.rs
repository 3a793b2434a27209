//! The seam between the change engine and the pair's config sync: the
//! [`Replication`] hook a local change calls, what it publishes, and the
//! engine's state as the heartbeat reads it. Pure (a trait and types).

use std::time::Duration;

use futures::future::BoxFuture;

use crate::store::VersionMeta;

/// What a local change tells the peer once it is done.
#[derive(Debug, Clone, PartialEq)]
pub enum Published {
    /// A new version in force here; `within`: pending that long.
    Version {
        /// Its metadata.
        meta: VersionMeta,
        /// Its text.
        text: String,
        /// Time left before it rolls back unless confirmed.
        within: Option<Duration>,
    },
    /// The pending version was confirmed.
    Confirmed(u64),
    /// The pending version was rolled back.
    RolledBack(u64),
}

/// The pair's config sync, as the change engine calls it.
pub trait Replication: Send + Sync {
    /// The peer's name, for messages.
    fn peer(&self) -> String;
    /// Before a new version is stored: the peer validates `text`.
    /// `Ok(Some(last))`: valid, and the peer's highest version number;
    /// `Ok(None)`: the peer cannot be reached (the change goes on here, the
    /// peer catches up later); `Err`: the peer refuses, with its reason.
    fn prepare<'a>(&'a self, text: &'a str) -> BoxFuture<'a, Result<Option<u64>, String>>;
    /// After a change here (the engine unlocked): tell the peer.
    fn publish(&self, what: Published) -> BoxFuture<'_, ()>;
}

/// This node's config state, read from the store (no lock: a heartbeat
/// must not wait for an apply).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The version in force: the pending one, else `current` (0: none).
    pub running: u64,
    /// Its text.
    pub text: String,
    /// When it was stored (RFC 3339).
    pub time: String,
    /// The highest number in the history.
    pub last: u64,
    /// The version waiting for confirmation.
    pub pending: Option<u64>,
    /// Time left before it rolls back.
    pub pending_left: Option<Duration>,
}
