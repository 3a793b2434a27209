//! # ha — the active/standby pair
//!
//! parvis does not speak VRRP itself: it renders the configs of
//! **keepalived** (VRRP v3, unicast to the peer) and **conntrackd** (FTFW
//! connection-state replication), supervises both as its children, drives the
//! election from its own health and learns every transition.
//!
//! - [`place`]: which node this is and which links carry the VIPs. Pure.
//! - [`render`]: `keepalived.conf` and `conntrackd.conf` as text. Pure.
//! - [`paths`]: where every file of both engines lives, under the node's
//!   own `state_dir/ha/` (two nodes run side by side on one host). Pure.
//! - [`fifo`]: parses keepalived's notify FIFO lines (pure) and reads the
//!   FIFO (I/O).
//! - [`health`]: the node's fitness (pure decision) and the loop that
//!   writes the health file keepalived's `vrrp_script` checks. I/O.
//! - [`child`]: runs one engine as a child that dies with the daemon
//!   (`setpriv --pdeathsig`), restarting it if it exits. I/O.
//! - [`drain`]: on a planned handover, the old master keeps serving its
//!   user-space connections while the new master relays their packets
//!   back through a VXLAN tunnel. I/O (`ip`, `nft`).
//! - `handover`: the planned handover, make-before-break. I/O.
//! - [`pair`]: starts all of the above for a config and keeps the state
//!   `parvis ha status` shows. I/O.
//! - [`neutron`], [`neutron_api`], [`neutron_http`]: `mode = "neutron"`,
//!   the new master points the floating IP at its own port through the
//!   Neutron API. I/O.

pub mod child;
pub mod drain;
pub mod fifo;
mod handover;
pub use handover::NEUTRON_NO_DRAIN;
pub mod health;
pub mod neutron;
pub mod neutron_api;
pub mod neutron_error;
pub mod neutron_http;
pub mod pair;
pub mod paths;
pub mod place;
pub mod render;
pub mod state;

pub use pair::Pair;
pub use paths::Paths;
pub use place::{locate, Place};
pub use state::{HaState, HaView, Role, Transition};

pub use crate::config::{CONNTRACKD_PORT, VRRP_PROTO};
/// The advertisement interval `parvis lab --ha` and docs/ha.md recommend
/// (see the measurements there).
pub const RECOMMENDED_ADVERT_MS: u64 = 500;
/// The VRRP instance's name in keepalived.conf and in the notify FIFO.
pub const INSTANCE: &str = "parvis";

/// What can go wrong while running the pair.
#[derive(Debug, thiserror::Error)]
pub enum HaError {
    /// This machine is neither node of `[ha]`, or both.
    #[error("this machine is not one node of [ha]: none of {nodes} is on a local interface (local addresses: {local})")]
    NotANode {
        /// The nodes' addresses.
        nodes: String,
        /// The addresses found here.
        local: String,
    },
    /// No link carries an address in the public VIP's network.
    #[error("no interface has an address in the network of ha.vip_public {0}")]
    NoPublicLink(String),
    /// A file under the HA folder could not be written or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The links could not be read.
    #[error("reading the links: {0}")]
    Net(String),
    /// A child could not be started.
    #[error("cannot start {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
}
