//! `Observed`: the links, addresses and routes as the kernel reports them,
//! as plain data so that `plan` stays pure. No I/O.

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

use crate::config::{Cidr, IfAddr, Mac};

/// Everything `plan` needs to know about the system.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Observed {
    /// Every link, loopback included.
    pub links: Vec<ObservedLink>,
    /// Routes of the main table.
    pub routes: Vec<ObservedRoute>,
}

impl Observed {
    /// The links that can carry a role: not loopback, with a MAC.
    pub fn nics(&self) -> impl Iterator<Item = &ObservedLink> {
        self.links
            .iter()
            .filter(|l| !l.loopback && l.mac.is_some_and(|m| m.0 != [0; 6]))
    }
    /// The link with this index.
    pub fn link(&self, index: u32) -> Option<&ObservedLink> {
        self.links.iter().find(|l| l.index == index)
    }
}

/// One link.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObservedLink {
    /// Interface index.
    pub index: u32,
    /// Interface name.
    pub name: String,
    /// Hardware address, if Ethernet-like.
    pub mac: Option<Mac>,
    /// True for the loopback device.
    pub loopback: bool,
    /// Administratively up (`IFF_UP`).
    pub up: bool,
    /// Carrier present (`IFF_LOWER_UP`).
    pub carrier: bool,
    /// Operational state (RFC 2863).
    pub oper_state: OperState,
    /// MTU.
    pub mtu: u32,
    /// Addresses with their prefix.
    pub addresses: Vec<IfAddr>,
    /// Traffic counters.
    pub counters: Counters,
}

/// A route of the main table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedRoute {
    /// Destination (`0.0.0.0/0` for the default route).
    pub to: Cidr,
    /// Gateway, if any.
    pub via: Option<IpAddr>,
    /// Output interface index, if any.
    pub dev: Option<u32>,
    /// Metric (priority).
    pub metric: u32,
}

/// Operational state of a link, as `ip link` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OperState {
    /// Ready to pass packets.
    Up,
    /// Down.
    Down,
    /// Down because of a lower layer (e.g. the veth peer is down).
    LowerLayerDown,
    /// Waiting for an external event.
    Dormant,
    /// A component is missing.
    NotPresent,
    /// In test mode.
    Testing,
    /// Not known (e.g. loopback).
    Unknown,
}

impl fmt::Display for OperState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OperState::Up => "UP",
            OperState::Down => "DOWN",
            OperState::LowerLayerDown => "LOWERLAYERDOWN",
            OperState::Dormant => "DORMANT",
            OperState::NotPresent => "NOTPRESENT",
            OperState::Testing => "TESTING",
            OperState::Unknown => "UNKNOWN",
        })
    }
}

/// Traffic counters of a link (64-bit kernel stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Bytes received.
    pub rx_bytes: u64,
    /// Packets received.
    pub rx_packets: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Received packets dropped.
    pub rx_dropped: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Send errors.
    pub tx_errors: u64,
    /// Packets dropped on send.
    pub tx_dropped: u64,
}
