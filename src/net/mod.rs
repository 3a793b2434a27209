//! Owning the two ports. The decisions are pure: [`resolve`] tells which NIC
//! is public and which internal, [`plan`] computes the [`NetChange`]s that
//! bring the links to what the config and the OpenStack metadata say. The
//! adapters do I/O: [`netlink`] observes and applies over rtnetlink,
//! [`watch`] follows link events for the live state, [`metadata`] reads the
//! config drive or the metadata service; [`diag`] is `parvis net plan`.
//!
//! # How roles are chosen
//! For each role (`public`, `internal`) that `[interfaces]` lists, in order:
//! 1. the Nova device-role tag: the NIC whose MAC is that of the device in
//!    `meta_data.json` tagged `public` / `internal`;
//! 2. else `interfaces.<role>.mac`;
//! 3. else `interfaces.<role>.name`.
//!
//! When a tag and the config both name a NIC, they must agree. A MAC or name
//! that matches no NIC, one NIC given both roles, or fewer NICs than roles is
//! an error that lists the NICs seen, and no link is touched.

mod change;
pub mod diag;
pub mod metadata;
pub mod netlink;
mod observed;
mod plan;
mod roles;
mod state;
mod watch;

use std::fmt;

pub use change::NetChange;
pub use observed::{Counters, Observed, ObservedLink, ObservedRoute, OperState};
pub use plan::plan;
pub use roles::{resolve, Assignment, Role, Roles, Selection};
pub use state::{link_events, link_states, LinkEvent, LinkState};
pub use watch::watch;

use crate::config::Mac;

/// The NICs seen on the system, for error messages: `ens3 (fa:16:3e:..)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NicList(pub Vec<(String, Option<Mac>)>);

impl NicList {
    /// The NICs of `observed` that can carry a role (not loopback).
    pub fn of(observed: &Observed) -> NicList {
        NicList(observed.nics().map(|l| (l.name.clone(), l.mac)).collect())
    }
}

impl fmt::Display for NicList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        for (i, (name, mac)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match mac {
                Some(m) => write!(f, "{name} ({m})")?,
                None => write!(f, "{name} (no MAC)")?,
            }
        }
        Ok(())
    }
}

/// What can go wrong when resolving roles, planning or talking netlink.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// A MAC (from the config or a device tag) matches no NIC.
    #[error("{source_name} = {mac} matches no NIC (expected the {role} NIC); NICs seen: {seen}")]
    MacNotFound {
        /// The role looked for.
        role: Role,
        /// The MAC looked for.
        mac: Mac,
        /// Where the MAC came from (`interfaces.public.mac`, a device tag).
        source_name: String,
        /// The NICs seen.
        seen: NicList,
    },
    /// A NIC name from the config matches no NIC.
    #[error("interfaces.{role}.name = {name:?} matches no NIC; NICs seen: {seen}")]
    NameNotFound {
        /// The role looked for.
        role: Role,
        /// The name looked for.
        name: String,
        /// The NICs seen.
        seen: NicList,
    },
    /// Nothing tells which NIC has this role.
    #[error("no NIC for the {role} role: interfaces.{role} gives no `mac` or `name` and no device in the OpenStack metadata is tagged {role:?}; NICs seen: {seen}", role = role.to_string())]
    NoSelector {
        /// The role.
        role: Role,
        /// The NICs seen.
        seen: NicList,
    },
    /// Two devices carry the same role tag.
    #[error("the OpenStack metadata tags {count} devices {role:?} (expected one): {macs}", role = role.to_string())]
    DuplicateTag {
        /// The role.
        role: Role,
        /// How many devices.
        count: usize,
        /// Their MACs.
        macs: String,
    },
    /// The device tag and the config point at different NICs.
    #[error("the {role} NIC is {by_tag} by its OpenStack tag but {by_config} by {source_name}: they must agree")]
    Disagree {
        /// The role.
        role: Role,
        /// The NIC the tag names.
        by_tag: String,
        /// The NIC the config names.
        by_config: String,
        /// The config key.
        source_name: String,
    },
    /// Both roles land on one NIC.
    #[error("NIC {nic} would be both public ({public}) and internal ({internal}); expected two different NICs")]
    TwoRoles {
        /// The NIC, `name (mac)`.
        nic: String,
        /// How public was chosen.
        public: Selection,
        /// How internal was chosen.
        internal: Selection,
    },
    /// Fewer NICs than roles.
    #[error("expected {expected} NICs (one per role in [interfaces]), found {found}: {seen}")]
    MissingNic {
        /// NICs needed.
        expected: usize,
        /// NICs found.
        found: usize,
        /// The NICs seen.
        seen: NicList,
    },
    /// Two default routes of one address family.
    #[error("two default routes for {family}: via {first} and via {second}; expected one, on the public side")]
    TwoDefaults {
        /// `IPv4` or `IPv6`.
        family: &'static str,
        /// First gateway and device.
        first: String,
        /// Second gateway and device.
        second: String,
    },
    /// A netlink request failed; `op` is the operation in `ip` terms.
    #[error("{op}: {message}")]
    Netlink {
        /// The operation, e.g. `ip addr add 10.0.0.1/24 dev ens4`.
        op: String,
        /// The kernel's answer, e.g. `File exists`.
        message: String,
    },
    /// The netlink socket could not be opened.
    #[error("cannot open a netlink socket: {0}")]
    Socket(#[source] std::io::Error),
}
