//! Forwarder errors: starting or reloading it. A connection does not fail
//! with an error but ends with an [`EndReason`], which says which side
//! ([`Side`]) failed. Pure.
//!
//! [`EndReason`]: super::EndReason

use std::net::SocketAddr;

/// Which side of a forwarded connection failed (as pingora tells
/// downstream, upstream and internal errors apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The client, or what it sent.
    Client,
    /// A backend server.
    Backend,
    /// The forwarder itself (limits, shutdown).
    Internal,
}

impl Side {
    /// `client`, `backend` or `internal`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Backend => "backend",
            Side::Internal => "internal",
        }
    }
}

/// An error of the forwarder.
#[derive(Debug, thiserror::Error)]
pub enum ForwarderError {
    /// A listener could not bind; nothing was left bound.
    #[error("listener {listener}: cannot bind {addr}: {source}")]
    Bind {
        /// Listener name.
        listener: String,
        /// Its address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}
