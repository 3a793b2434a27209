//! The pair's view types (`GET /api/v1/ha`, `parvis ha status`) and their
//! Prometheus text. Pure. The daemon's `ha` module fills them.

use serde::{Deserialize, Serialize};

/// A node's VRRP role as keepalived reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Role {
    /// Holds both VIPs.
    Master,
    /// Ready to take them.
    Backup,
    /// Unfit (health, a link, or a planned handover): never takes them.
    Fault,
    /// keepalived stopped, or has not reported yet.
    Unknown,
}

impl Role {
    /// The `parvis_ha_state` value: 0 unknown, 1 backup, 2 master, 3 fault.
    pub fn gauge(self) -> u8 {
        match self {
            Role::Unknown => 0,
            Role::Backup => 1,
            Role::Master => 2,
            Role::Fault => 3,
        }
    }
    /// Upper-case name, as keepalived writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Master => "MASTER",
            Role::Backup => "BACKUP",
            Role::Fault => "FAULT",
            Role::Unknown => "UNKNOWN",
        }
    }
}

/// One change of role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// The role before.
    pub from: Role,
    /// The role after.
    pub to: Role,
    /// Seconds since the epoch.
    pub at: u64,
    /// Why, as far as this node knows (health, handover, peer silent...).
    pub cause: String,
}

/// The pair as this node sees it (`GET /api/v1/ha`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HaView {
    /// This node's name.
    pub node: String,
    /// This node's internal address.
    pub address: String,
    /// This node's role.
    pub role: Role,
    /// The peer's name.
    pub peer: String,
    /// The peer's internal address.
    pub peer_address: String,
    /// The peer's role as last seen over the sync channel; "unknown" until
    /// that channel reports it (module `sync`).
    pub peer_role: String,
    /// The peer's config version as last seen over the sync channel;
    /// "unknown" until that channel reports it.
    pub peer_version: String,
    /// The last transition, if any.
    pub last: Option<Transition>,
    /// Transitions since the daemon started.
    pub transitions: u64,
    /// This node's health: "ok" or why not.
    pub health: String,
    /// A planned handover holds this node out of the election.
    pub standby: bool,
    /// The public and internal VIPs.
    pub vips: [String; 2],
}

/// `parvis_ha_state` and `parvis_ha_transitions_total` in Prometheus text.
pub fn metrics(v: &HaView) -> String {
    let node = v.node.replace(['\\', '"', '\n'], "_");
    format!(
        "# HELP parvis_ha_state This node's VRRP role: 0 unknown, 1 backup, 2 master, 3 fault.\n\
         # TYPE parvis_ha_state gauge\n\
         parvis_ha_state{{node=\"{node}\",role=\"{role}\"}} {gauge}\n\
         # HELP parvis_ha_transitions_total VRRP role changes since the daemon started.\n\
         # TYPE parvis_ha_transitions_total counter\n\
         parvis_ha_transitions_total{{node=\"{node}\"}} {n}\n",
        role = v.role.as_str(),
        gauge = v.role.gauge(),
        n = v.transitions,
    )
}
