//! Forwarder errors, each naming the side that failed. Pure.

use std::net::SocketAddr;

/// Which side of a forwarded connection failed; also the metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The client (or the listener facing it).
    Client,
    /// A backend server.
    Backend,
    /// The forwarder itself.
    Internal,
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
    /// A backend server failed.
    #[error("backend {backend} server {server}: {source}")]
    Backend {
        /// Backend name.
        backend: String,
        /// Server address.
        server: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The client side failed.
    #[error("client {client}: {source}")]
    Client {
        /// Client address.
        client: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Something inside the forwarder.
    #[error("internal: {0}")]
    Internal(String),
}

impl ForwarderError {
    /// The side that failed.
    pub fn side(&self) -> Side {
        match self {
            ForwarderError::Bind { .. } | ForwarderError::Client { .. } => Side::Client,
            ForwarderError::Backend { .. } => Side::Backend,
            ForwarderError::Internal(_) => Side::Internal,
        }
    }
}
