//! `Config`: the validated, typed configuration every other module reads.
//! No `Option`-for-default is left: defaults are filled in by `validate`.
//! Pure.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::blockfile::BlockFile;
use super::host::HostPattern;
use super::types::{Cidr, IfAddr, Mac, PortRange, Rate};

/// The whole validated configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    /// `[appliance]`
    pub appliance: Appliance,
    /// `[interfaces]`; `None` leaves links alone.
    pub interfaces: Option<Interfaces>,
    /// `[admin]`
    pub admin: Admin,
    /// `[limits]`
    pub limits: Limits,
    /// `[[listener]]`, in file order.
    pub listeners: Vec<Listener>,
    /// `[[route]]`, in file order.
    pub routes: Vec<Route>,
    /// `[backend.NAME]`, by name.
    pub backends: BTreeMap<String, Backend>,
    /// `[[forward]]`, in file order.
    pub forwards: Vec<Forward>,
    /// `[egress]`
    pub egress: Egress,
    /// `[metrics]`
    pub metrics: Option<Metrics>,
    /// `[ha]`; `None`: a single appliance.
    pub ha: Option<Ha>,
    /// `[log]`: the connection log.
    pub log: super::log::Log,
}

/// `[appliance]`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Appliance {
    /// Shown in the UI, logs and metrics (default `parvis`).
    pub name: String,
    /// Config history, certificate, password hash (default `/var/lib/parvis`).
    pub state_dir: PathBuf,
    /// Global cap on concurrent forwarded connections (default 20,000).
    pub max_connections: u32,
}

/// `[interfaces]`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Interfaces {
    /// The floating-IP side.
    pub public: Option<Port>,
    /// The Kubernetes side.
    pub internal: Option<Port>,
}

/// How a NIC is found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PortSelector {
    /// By MAC address.
    Mac(Mac),
    /// By interface name.
    Name(String),
    /// By the OpenStack device tag equal to the role (`public`/`internal`).
    Tag,
}

/// One port under `[interfaces]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Port {
    /// How to find the NIC.
    pub select: PortSelector,
    /// Static address; `None` keeps what DHCP or metadata gave.
    pub address: Option<IfAddr>,
    /// Default gateway.
    pub gateway: Option<IpAddr>,
    /// MTU; `None`: metadata, else leave it.
    pub mtu: Option<u32>,
    /// Extra routes.
    pub routes: Vec<StaticRoute>,
}

/// A static route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaticRoute {
    /// Destination.
    pub to: Cidr,
    /// Next hop.
    pub via: IpAddr,
}

/// `[admin]`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Admin {
    /// HTTPS listen address (default `0.0.0.0:8443`).
    pub listen: SocketAddr,
    /// The only sources that reach the admin port and SSH.
    pub allow: Vec<Cidr>,
    /// Certificate and key; `None`: self-signed in `state_dir`.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// SSH port opened to `allow` (default 22).
    pub ssh_port: u16,
}

/// Default of `limits.ipv6_prefix`: a /64 is what one site (or one
/// attacker) gets; metering single IPv6 addresses is metering nothing.
pub const DEFAULT_IPV6_PREFIX: u8 = 64;
/// Default of `limits.meter_size`: sources per meter set. An element with
/// its token bucket or connection list takes about 200 bytes of kernel
/// memory, so 65,536 sources cost about 13 MB per set at worst.
pub const DEFAULT_METER_SIZE: u32 = 65_536;
/// Largest `limits.meter_size` accepted (about 200 MB per full set).
pub const MAX_METER_SIZE: u32 = 1 << 20;

/// `[limits]`: per source address, enforced in nftables.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Limits {
    /// New-connection rate per source; `None` = no limit.
    pub conn_rate: Option<Rate>,
    /// Burst above the rate.
    pub conn_burst: u32,
    /// Concurrent connections per source; `None` = no limit.
    pub conn_max: Option<u32>,
    /// How long a source over the rate is dropped; zero = no ban.
    pub ban: Duration,
    /// IPv6 sources are metered and banned per prefix of this length (64):
    /// one host holds a whole /64 and can change address at will.
    pub ipv6_prefix: u8,
    /// Sources each meter and ban set holds; when a meter is full, new
    /// sources are refused on the public ports (fail closed).
    pub meter_size: u32,
    /// Always dropped.
    pub block: Vec<Cidr>,
    /// `block_file`, as read when the config was parsed: also dropped.
    pub block_file: Option<BlockFile>,
}

impl Limits {
    /// Every blocked prefix: `block`, then the block file's.
    pub fn blocked(&self) -> impl Iterator<Item = &Cidr> + '_ {
        self.block
            .iter()
            .chain(self.block_file.iter().flat_map(|f| f.entries.iter()))
    }
}

/// What a listener reads to route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// The ClientHello's SNI; TLS is never terminated.
    Tls,
    /// The Host header of the first request.
    Http,
}

/// `[[listener]]`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Listener {
    /// Unique name.
    pub name: String,
    /// Address and port.
    pub bind: SocketAddr,
    /// What to route on.
    pub protocol: Protocol,
    /// Backend for no/unknown name; `None`: close.
    pub default_backend: Option<String>,
    /// Peers whose PROXY header is trusted.
    pub accept_proxy: Vec<Cidr>,
    /// Time allowed to read the ClientHello or request head (default 5s).
    pub hello_timeout: Duration,
    /// Idle timeout of a relayed connection (default 10m).
    pub idle_timeout: Duration,
    /// Concurrent connections on this listener (default: the global cap).
    pub max_connections: u32,
}

/// `[[route]]`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Route {
    /// Listener name.
    pub listener: String,
    /// Host patterns.
    pub hosts: Vec<HostPattern>,
    /// Backend name.
    pub backend: String,
    /// ALPN protocols, one of which the ClientHello must offer; empty: any.
    pub alpn: Vec<String>,
}

/// PROXY protocol version sent to a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyVersion {
    /// No header.
    Off,
    /// Text line.
    V1,
    /// Binary, with the AUTHORITY TLV.
    V2,
}

/// Server choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Balance {
    /// In turn.
    RoundRobin,
    /// Fewest active connections.
    LeastConn,
    /// Hash of the client address.
    SourceHash,
}

/// Active health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Health {
    /// Between checks (default 2s).
    pub interval: Duration,
    /// Connect timeout (default 1s).
    pub timeout: Duration,
    /// Consecutive failures before down (default 3).
    pub fall: u32,
    /// Consecutive successes before up (default 2).
    pub rise: u32,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            interval: Duration::from_secs(2),
            timeout: Duration::from_secs(1),
            fall: 3,
            rise: 2,
        }
    }
}

/// `[backend.NAME]`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Backend {
    /// Name (the table key).
    pub name: String,
    /// Servers.
    pub servers: Vec<SocketAddr>,
    /// PROXY header version (default v2).
    pub proxy_protocol: ProxyVersion,
    /// Server choice (default round-robin).
    pub balance: Balance,
    /// Health check.
    pub health: Health,
    /// Extra PROXY v2 TLVs to send.
    pub proxy_v2_tlvs: ProxyTlvs,
}

/// Optional PROXY v2 TLVs a backend asks for (`proxy_v2_tlvs`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ProxyTlvs {
    /// PP2_TYPE_ALPN (0x01): the protocol the route matched, else the
    /// client's first offer.
    pub alpn: bool,
    /// PP2_TYPE_UNIQUE_ID (0x05): the connection id the connection log prints.
    pub unique_id: bool,
}

/// Transport of a forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// TCP
    Tcp,
    /// UDP
    Udp,
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        })
    }
}

/// `[[forward]]`: in-kernel DNAT.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Forward {
    /// TCP or UDP.
    pub proto: Transport,
    /// Public port(s).
    pub ports: PortRange,
    /// Target address.
    pub to_addr: IpAddr,
    /// Target port for a single-port forward; `None` keeps the port(s).
    pub to_port: Option<u16>,
    /// SNAT to the appliance's internal address.
    pub masquerade: bool,
    /// Source allow-list; empty = everyone.
    pub allow: Vec<Cidr>,
}

/// `[egress]`
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Egress {
    /// Internal prefixes masqueraded on the way out.
    pub masquerade: Vec<Cidr>,
}

/// `[metrics]`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// Prometheus listen address (default `127.0.0.1:9108` when `[metrics]` is present).
    pub listen: SocketAddr,
}

/// `[ha]`: a pair of appliances sharing two virtual addresses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ha {
    /// VRRP virtual router id.
    pub vrid: u8,
    /// The address the floating IP points at (public side).
    pub vip_public: IfAddr,
    /// The Kubernetes nodes' gateway and the SNAT source (internal side).
    pub vip_internal: IfAddr,
    /// VRRP advertisement interval (a multiple of 10 ms, default 1 s).
    pub advert: Duration,
    /// TCP port of the config sync channel (default 7443).
    pub sync_port: u16,
    /// Where the pair's shared secret comes from.
    pub key: HaKey,
    /// The two nodes, in file order.
    pub nodes: [HaNode; 2],
    /// How the floating IP follows the master.
    pub mode: super::HaMode,
    /// `[ha.neutron]`, with `mode = "neutron"`.
    pub neutron: Option<super::HaNeutron>,
}

/// The pair's shared secret: inline, or a file read when the daemon starts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum HaKey {
    /// `key = "..."`
    #[serde(serialize_with = "redacted")]
    Inline(crate::config::Secret),
    /// `key_file = "/path"`
    File(PathBuf),
}

fn redacted<S: serde::Serializer>(_: &crate::config::Secret, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("***")
}

/// `[[ha.node]]`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HaNode {
    /// Shown in status and logs.
    pub name: String,
    /// Its address on the internal port: VRRP, conntrackd and config sync use it.
    pub address: IpAddr,
    /// VRRP priority (1-254).
    pub priority: u8,
}

impl Ha {
    /// This node and its peer, found by which node address is among
    /// `local` (the addresses on this machine's internal port); `None`
    /// when neither or both are.
    pub fn me(&self, local: &[IpAddr]) -> Option<(&HaNode, &HaNode)> {
        let [a, b] = &self.nodes;
        match (local.contains(&a.address), local.contains(&b.address)) {
            (true, false) => Some((a, b)),
            (false, true) => Some((b, a)),
            _ => None,
        }
    }
}
