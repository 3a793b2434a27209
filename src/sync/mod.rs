//! The pair's config sync (`[ha]`): keeps both appliances on the same
//! config version, carries bans across, and tells each node how its peer
//! stands. Does I/O (sockets, the change engine, nft for bans).
//!
//! - [`key`]: the pair's TLS identity derived from `ha.key` (pure).
//! - [`verify`]: certificate pinning (pure).
//! - [`wire`]: the messages and their framing.
//! - [`channel`]: mutual TLS over TCP, one request per connection.
//! - [`server`]: what a node does with its peer's requests.
//! - [`link`]: the client side — the change engine's [`crate::change::Replication`]
//!   hook, the heartbeat and catching up ([`plan`] decides, purely).
//! - [`redact`]: `ha.key` hidden from the config text operators see.
//!
//! How versions stay the same: an apply anywhere asks the peer to validate
//! the text and to give its highest version number; the new version takes
//! `max(local, peer) + 1` on both. A peer that cannot be reached is skipped
//! and catches up by its heartbeat: the node whose version in force is
//! higher (then later, then by name) wins, the other copies the history it
//! lacks and applies the winner's version with its number. See
//! `docs/ha.md`, "Config sync".

mod catchup;
pub mod channel;
pub mod key;
pub mod link;
pub mod plan;
pub mod redact;
pub mod server;
pub mod verify;
pub mod wire;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::change::Changer;
use crate::config::Ha;

pub use link::{Link, PeerSeen};

/// What can go wrong on the sync channel.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The key could not be read or turned into an identity (the key
    /// itself is never in the message).
    #[error("ha key: {0}")]
    Key(String),
    /// A socket failed.
    #[error("sync channel: {0}")]
    Io(std::io::Error),
    /// The peer did not answer in time.
    #[error("sync channel: no answer from {0} in time")]
    Timeout(SocketAddr),
    /// The TLS handshake failed: not the pair's key, or not a parvis node.
    #[error("sync channel: TLS handshake refused ({0}); do both nodes have the same ha.key?")]
    Handshake(String),
    /// A malformed or unexpected message.
    #[error("sync channel: protocol error: {0}")]
    Protocol(String),
}

/// How often a node tells its peer how it stands.
pub const HEARTBEAT: Duration = Duration::from_secs(1);

/// Starts the sync of `ha` in the background: finds this node among
/// `ha.node` by the addresses on its links (retrying until one appears),
/// listens on `address:sync_port`, connects the change engine, and sends
/// heartbeats. `role` is this node's VRRP role ("unknown" until the VRRP
/// supervision sends one). Returns the link whose status the operator
/// views read.
pub fn start(
    ha: &Ha,
    changer: Changer,
    role: watch::Receiver<String>,
    token: CancellationToken,
) -> Result<Arc<Link>, SyncError> {
    let secret = key::read_key(&ha.key)?;
    let identity = key::Identity::derive(&secret)?;
    let link = Arc::new(Link::new(
        ha.clone(),
        identity.client_config()?,
        changer.clone(),
        role.clone(),
    ));
    let server_tls = identity.server_config()?;
    let task = link.clone();
    tokio::spawn(async move {
        let Some((me, peer)) = find_me(&task.ha, &token).await else {
            return;
        };
        task.found(me, peer);
        let addr = SocketAddr::new(me, task.ha.sync_port);
        let listener = loop {
            match tokio::net::TcpListener::bind(addr).await {
                Ok(l) => break l,
                Err(e) => {
                    tracing::warn!(%addr, error = %e, "sync: cannot listen; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(2)) => {}
                        () = token.cancelled() => return,
                    }
                }
            }
        };
        tracing::info!(%addr, %peer, "sync: listening for the peer");
        let handler = Arc::new(server::Node::new(changer, task.clone()));
        tokio::spawn(channel::serve(
            listener,
            server_tls,
            peer,
            handler,
            token.clone(),
        ));
        task.run(token).await;
    });
    Ok(link)
}

/// This node's and the peer's addresses, once one node address is on a link here.
async fn find_me(ha: &Ha, token: &CancellationToken) -> Option<(IpAddr, IpAddr)> {
    let mut warned = false;
    loop {
        let local = local_addresses().await;
        if let Some((me, peer)) = ha.me(&local) {
            return Some((me.address, peer.address));
        }
        if !warned {
            tracing::warn!(
                nodes = ?ha.nodes.iter().map(|n| n.address).collect::<Vec<_>>(),
                "sync: none (or both) of the [[ha.node]] addresses is on this machine; waiting"
            );
            warned = true;
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(2)) => {}
            () = token.cancelled() => return None,
        }
    }
}

/// Every address on a link other than loopback.
async fn local_addresses() -> Vec<IpAddr> {
    match crate::net::netlink::observe().await {
        Ok(o) => o
            .links
            .iter()
            .filter(|l| !l.loopback)
            .flat_map(|l| l.addresses.iter().map(|a| a.0.addr()))
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "sync: cannot read the addresses");
            Vec::new()
        }
    }
}
