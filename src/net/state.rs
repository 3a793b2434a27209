//! Live state for the admin UI and the CLI: each link with its role,
//! operational state, addresses and counters, and the events worth a log
//! line when two snapshots differ. Pure.

use std::fmt;

use serde::Serialize;

use super::{Counters, Observed, OperState, Role, Roles};
use crate::config::{IfAddr, Mac};

/// One link as the admin UI shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkState {
    /// Interface name.
    pub name: String,
    /// Interface index.
    pub index: u32,
    /// MAC address.
    pub mac: Option<Mac>,
    /// Its role, if it has one.
    pub role: Option<Role>,
    /// Administratively up.
    pub up: bool,
    /// Carrier present.
    pub carrier: bool,
    /// Operational state.
    pub oper_state: OperState,
    /// MTU.
    pub mtu: u32,
    /// Addresses.
    pub addresses: Vec<IfAddr>,
    /// Traffic counters.
    pub counters: Counters,
}

impl fmt::Display for LinkState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let role = self.role.map_or("-".to_string(), |r| r.to_string());
        let mac = self.mac.map_or("-".to_string(), |m| m.to_string());
        let addrs: Vec<String> = self.addresses.iter().map(|a| a.to_string()).collect();
        let c = &self.counters;
        write!(
            f,
            "{} {role} {mac} {} carrier={} mtu {} [{}] rx {}B/{}p err {} drop {} tx {}B/{}p err {} drop {}",
            self.name,
            self.oper_state,
            if self.carrier { "up" } else { "down" },
            self.mtu,
            addrs.join(" "),
            c.rx_bytes,
            c.rx_packets,
            c.rx_errors,
            c.rx_dropped,
            c.tx_bytes,
            c.tx_packets,
            c.tx_errors,
            c.tx_dropped
        )
    }
}

/// The snapshot of every non-loopback link, with roles.
pub fn link_states(observed: &Observed, roles: &Roles) -> Vec<LinkState> {
    observed
        .links
        .iter()
        .filter(|l| !l.loopback)
        .map(|l| LinkState {
            name: l.name.clone(),
            index: l.index,
            mac: l.mac,
            role: roles.role_of(l.index),
            up: l.up,
            carrier: l.carrier,
            oper_state: l.oper_state,
            mtu: l.mtu,
            addresses: l.addresses.clone(),
            counters: l.counters,
        })
        .collect()
}

/// A change worth a log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// The carrier came or went.
    Carrier {
        /// Interface name.
        name: String,
        /// Its role.
        role: Option<Role>,
        /// Carrier now present.
        carrier: bool,
        /// The operational state now.
        oper_state: OperState,
    },
    /// A link appeared.
    Added {
        /// Interface name.
        name: String,
    },
    /// A link disappeared.
    Removed {
        /// Interface name.
        name: String,
        /// Its role.
        role: Option<Role>,
    },
}

fn label(name: &str, role: Option<Role>) -> String {
    role.map_or(name.to_string(), |r| format!("{name} ({r})"))
}

impl fmt::Display for LinkEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkEvent::Carrier {
                name,
                role,
                carrier,
                oper_state,
            } => write!(
                f,
                "{}: carrier {} (state {oper_state})",
                label(name, *role),
                if *carrier { "up" } else { "down" }
            ),
            LinkEvent::Added { name } => write!(f, "{name}: link appeared"),
            LinkEvent::Removed { name, role } => {
                write!(f, "{}: link removed", label(name, *role))
            }
        }
    }
}

/// The events between two snapshots (by interface index).
pub fn link_events(before: &[LinkState], after: &[LinkState]) -> Vec<LinkEvent> {
    let mut out = Vec::new();
    for now in after {
        match before.iter().find(|b| b.index == now.index) {
            None => out.push(LinkEvent::Added {
                name: now.name.clone(),
            }),
            Some(was) if was.carrier != now.carrier || was.oper_state != now.oper_state => out
                .push(LinkEvent::Carrier {
                    name: now.name.clone(),
                    role: now.role,
                    carrier: now.carrier,
                    oper_state: now.oper_state,
                }),
            Some(_) => {}
        }
    }
    for was in before {
        if !after.iter().any(|a| a.index == was.index) {
            out.push(LinkEvent::Removed {
                name: was.name.clone(),
                role: was.role,
            });
        }
    }
    out
}
