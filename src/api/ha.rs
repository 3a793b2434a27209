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
    /// With `mode = "neutron"`: the floating IP as Neutron says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neutron: Option<FipView>,
}

/// The floating IP as Neutron last said, against this node's VRRP role
/// (`mode = "neutron"`; filled by `ha::neutron`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FipView {
    /// The floating IP's id.
    pub floating_ip: String,
    /// The port Neutron says it points at (`None`: no port, or not known yet).
    pub port: Option<String>,
    /// The fixed address on that port.
    pub fixed_ip: Option<String>,
    /// Which node that port belongs to: a node name, "nothing", "unknown"
    /// (not asked yet) or "another port".
    pub points_at: String,
    /// It points at this node's public port.
    pub this_node: bool,
    /// This node is MASTER and the floating IP points at it.
    pub serving: bool,
    /// Neutron and VRRP agree (MASTER and here, or not MASTER and not here).
    pub agrees: bool,
    /// One line for people: the verdict and why.
    pub note: String,
    /// When Neutron was last asked (seconds since the epoch).
    pub checked_at: Option<u64>,
    /// The last move this node made, and how long it took.
    pub last_move: Option<String>,
    /// The last API error, until a call succeeds.
    pub error: Option<String>,
    /// API calls that failed since the daemon started.
    pub errors: u64,
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
    ) + &v
        .neutron
        .as_ref()
        .map(|f| fip_metrics(&node, f))
        .unwrap_or_default()
}

/// The floating IP's gauges (`mode = "neutron"`).
fn fip_metrics(node: &str, f: &FipView) -> String {
    format!(
        "# HELP parvis_ha_fip_here 1 when Neutron says the floating IP points at this node's port.\n\
         # TYPE parvis_ha_fip_here gauge\n\
         parvis_ha_fip_here{{node=\"{node}\"}} {here}\n\
         # HELP parvis_ha_fip_agrees 1 when Neutron and VRRP agree on this node (master and here, or neither).\n\
         # TYPE parvis_ha_fip_agrees gauge\n\
         parvis_ha_fip_agrees{{node=\"{node}\"}} {agrees}\n\
         # HELP parvis_ha_fip_serving 1 when this node is MASTER and the floating IP points at it.\n\
         # TYPE parvis_ha_fip_serving gauge\n\
         parvis_ha_fip_serving{{node=\"{node}\"}} {serving}\n\
         # HELP parvis_ha_api_errors_total Keystone or Neutron calls that failed.\n\
         # TYPE parvis_ha_api_errors_total counter\n\
         parvis_ha_api_errors_total{{node=\"{node}\"}} {errors}\n",
        here = u8::from(f.this_node),
        agrees = u8::from(f.agrees),
        serving = u8::from(f.serving),
        errors = f.errors,
    )
}
