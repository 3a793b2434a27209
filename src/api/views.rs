//! The view types: plain serde structs for everything the web UI, the JSON
//! API and the CLI show. The daemon fills them in; the admin module only
//! reads them. Pure.

use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

/// `GET /api/v1/status`: the appliance at a glance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusView {
    /// `appliance.name`.
    pub name: String,
    /// The parvis version (`CARGO_PKG_VERSION`).
    pub version: String,
    /// Seconds since the daemon started.
    pub uptime_secs: u64,
    /// The ports (public, internal) as they are now.
    pub interfaces: Vec<LinkView>,
    /// The listeners and their connection counts.
    pub listeners: Vec<ListenerView>,
    /// The config version running now (0 before the first apply).
    #[serde(default)]
    pub config_version: u64,
    /// A change waiting for `confirm`, if any.
    pub pending: Option<PendingView>,
    /// Things the operator should know (a backend down, a port missing, ...).
    pub warnings: Vec<String>,
    /// The HA pair, when `[ha]` is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ha: Option<HaView>,
}

/// The HA pair as this node sees it (`status.ha`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HaView {
    /// This node's name (`ha.node[].name`; empty until it found itself).
    pub node: String,
    /// This node's VRRP role: `MASTER`, `BACKUP`, `FAULT` or `unknown`.
    pub role: String,
    /// This node's config version in force.
    pub config_version: u64,
    /// The peer.
    pub peer: HaPeerView,
    /// The two nodes ran different config versions (or texts) when last compared.
    pub diverged: bool,
    /// With `mode = "neutron"`: where Neutron says the floating IP points,
    /// against this node's role (`serving`, `agrees`, `note`, `error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neutron: Option<super::ha::FipView>,
}

/// The peer as last seen over the sync channel.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HaPeerView {
    /// Its name.
    pub name: String,
    /// Its internal address.
    pub address: Option<IpAddr>,
    /// The last heartbeat was answered.
    pub reachable: bool,
    /// Seconds since it was last heard from (`None`: never).
    pub last_seen_secs: Option<u64>,
    /// Its VRRP role, as last seen.
    pub role: String,
    /// Its config version in force, as last seen.
    pub config_version: u64,
    /// Its pending version, as last seen.
    pub pending: Option<u64>,
    /// The last failure talking to it.
    pub error: Option<String>,
    /// The last conflict resolved after a partition.
    pub conflict: Option<String>,
}

/// One network port.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkView {
    /// Kernel name (`ens3`).
    pub name: String,
    /// `public` or `internal`.
    pub role: String,
    /// MAC address, `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
    /// Operational state: `up`, `down`, `missing`, ...
    pub state: String,
    /// MTU in bytes.
    pub mtu: u32,
    /// Addresses with prefix length (`192.168.10.5/24`).
    pub addresses: Vec<String>,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Packets received.
    pub rx_packets: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Receive + transmit errors.
    pub errors: u64,
    /// Receive + transmit drops.
    pub drops: u64,
}

/// One `[[listener]]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListenerView {
    /// `listener.name`.
    pub name: String,
    /// The bound address (`0.0.0.0:443`).
    pub bind: String,
    /// `tls` or `http`.
    pub protocol: String,
    /// Connections open now.
    pub active: u64,
    /// Connections accepted since start.
    pub total: u64,
}

/// A change applied with `confirm_within` and not confirmed yet.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PendingView {
    /// The pending config version.
    pub version: u64,
    /// Seconds left before it is rolled back by itself.
    pub deadline_secs: u64,
}

/// `GET /api/v1/routes`: one `[[route]]` (host names → backend).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RouteView {
    /// The listener it belongs to.
    pub listener: String,
    /// Host names as written (`*.example.org` for wildcards); empty for
    /// the listener's default route.
    pub hosts: Vec<String>,
    /// The backend name.
    pub backend: String,
}

/// `GET /api/v1/backends`: one backend and its servers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BackendView {
    /// `backend.NAME`.
    pub name: String,
    /// `round-robin`, `least-conn` or `source-hash`.
    pub balance: String,
    /// `off`, `v1` or `v2`.
    pub proxy_protocol: String,
    /// The servers with health and counters.
    pub servers: Vec<ServerView>,
}

/// One backend server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerView {
    /// Address and port.
    pub addr: SocketAddr,
    /// Health-check verdict.
    pub up: bool,
    /// Drained by the operator: no new connection.
    #[serde(default)]
    pub drained: bool,
    /// Connections open now.
    pub active: u64,
    /// Connections since start.
    pub total: u64,
    /// Bytes client → server.
    pub bytes_in: u64,
    /// Bytes server → client.
    pub bytes_out: u64,
}

/// `GET /api/v1/connections`: one live forwarded connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnView {
    /// Unique id while the daemon runs.
    pub id: u64,
    /// The listener that accepted it.
    pub listener: String,
    /// The client (after a trusted PROXY header, the real client).
    pub client: SocketAddr,
    /// SNI or Host, once read.
    pub host: Option<String>,
    /// The chosen backend, once routed.
    pub backend: Option<String>,
    /// The backend server, once connected.
    pub server: Option<SocketAddr>,
    /// Milliseconds since accept.
    pub age_ms: u64,
    /// Bytes client → server.
    pub bytes_in: u64,
    /// Bytes server → client.
    pub bytes_out: u64,
}

/// `GET /api/v1/ruleset`: the nftables table as it is in the kernel.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RulesetView {
    /// `nft list table inet parvis` text.
    pub text: String,
    /// Per-rule counters, by the rule's comment.
    pub counters: Vec<RuleCounterView>,
}

/// One rule's counter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleCounterView {
    /// The chain the rule is in.
    pub chain: String,
    /// The rule's comment (names the config item it came from).
    pub comment: String,
    /// Packets matched.
    pub packets: u64,
    /// Bytes matched.
    pub bytes: u64,
}

/// `GET /api/v1/bans`: one banned source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BanView {
    /// The banned address (IPv6: the first address of the banned prefix).
    pub addr: IpAddr,
    /// Seconds until the ban lapses.
    pub expires_in_secs: u64,
    /// What the ban closes.
    #[serde(default)]
    pub scope: BanScopeView,
}

/// What a ban closes to its source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BanScopeView {
    /// Everything (a meter's ban or one set by hand); sources in
    /// `admin.allow` keep the admin port, SSH and their open connections.
    #[default]
    All,
    /// New connections to the admin port and SSH only (a login ban).
    Admin,
}

/// How full one of the firewall's dynamic sets is (`/metrics`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SetFillView {
    /// The set, e.g. `rate4`.
    pub set: String,
    /// Elements in it now.
    pub elements: u64,
    /// Elements it can hold.
    pub size: u64,
}

/// `GET /api/v1/history`: one config version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionView {
    /// Version number, 1-based, increasing.
    pub version: u64,
    /// When it was applied, Unix seconds.
    pub time: u64,
    /// Who applied it (`ui 198.51.100.10`, `cli`, `boot`, ...).
    pub author: String,
    /// The operator's comment.
    pub comment: String,
    /// Where it stands.
    pub state: VersionState,
}

/// Where a config version stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VersionState {
    /// In force and confirmed.
    Running,
    /// In force, waiting for `confirm`.
    Pending,
    /// Was running, replaced by a later version.
    Superseded,
    /// Rolled back (not confirmed in time, or by hand).
    RolledBack,
    /// Refused when applied; never ran.
    Failed,
}

/// `GET /api/v1/events`: one entry of the recent log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventView {
    /// Unix seconds.
    pub time: u64,
    /// `apply`, `rollback`, `ban`, `backend`, `error`, `login`, ...
    pub kind: String,
    /// One line for a person.
    pub message: String,
}

/// `GET /api/v1/series`: samples for the dashboard chart, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SeriesView {
    /// Seconds between samples.
    pub interval_secs: u64,
    /// The samples (about ten minutes' worth).
    pub points: Vec<SeriesPoint>,
}

/// One sample of the dashboard chart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    /// Unix seconds.
    pub time: u64,
    /// New connections per second over the interval.
    pub conn_rate: f64,
    /// Connections open at the sample time.
    pub active: u64,
}

/// `POST /api/v1/apply` (and `parvis apply`): a new config to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplyRequest {
    /// The whole config, TOML text.
    pub config: String,
    /// The operator's comment for the history.
    #[serde(default)]
    pub comment: String,
    /// Roll back by itself unless confirmed within this many seconds.
    #[serde(default)]
    pub confirm_within_secs: Option<u64>,
    /// Override the daemon's safety refusals (a change already pending, an
    /// `admin.allow` that would lock the caller out). Never overrides an
    /// invalid config.
    #[serde(default)]
    pub force: bool,
}

/// What an apply or a rollback did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApplyOutcome {
    /// The config version now running (or pending).
    pub version: u64,
    /// Seconds left to confirm, when applied with `confirm_within_secs`.
    pub pending_deadline_secs: Option<u64>,
    /// One line per change (`route[1] added`, `backend.x.servers changed`).
    pub changes: Vec<String>,
}

/// `POST /api/v1/confirm`: what was confirmed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfirmOutcome {
    /// The config version now confirmed.
    pub version: u64,
}

/// `POST /api/v1/check`: a config's verdict.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// No problems.
    pub ok: bool,
    /// The problems, in file order.
    pub problems: Vec<CheckProblem>,
}

/// One problem of a checked config.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckProblem {
    /// 1-based line, where known.
    pub line: Option<usize>,
    /// Key path (`route[2].hosts[0]`); empty for the whole file.
    pub path: String,
    /// What is wrong (English: the CLI and scripts read this).
    pub message: String,
    /// The message's key in `api::messages` (`check.not_addr_port`), when
    /// its text matches one; the UI renders it in its language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The key's parameters (`{"value": "\"x\""}`; a nested message is
    /// `{"code": ..., "params": ...}`), with `code`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<serde_json::Value>,
}

/// Extra figures for `/metrics` that only the daemon knows. Everything
/// else is rendered from the other views.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricsView {
    /// Finished connections by listener, backend and result.
    pub connections: Vec<ConnCountView>,
    /// Time to read the ClientHello / request head, seconds.
    pub hello_seconds: Option<HistogramView>,
    /// nftables applies.
    pub nft_apply: Option<NftApplyView>,
    /// Connection log lines dropped (queue full), when the forwarder runs.
    #[serde(default)]
    pub log_dropped: Option<u64>,
    /// How full the meter and ban sets are.
    pub limit_sets: Vec<SetFillView>,
    /// Routed connections and their bytes, by listener, route and backend.
    #[serde(default)]
    pub routes: Vec<RouteCountView>,
    /// Health-check transitions, by backend, server and new state.
    #[serde(default)]
    pub health_transitions: Vec<HealthTransitionView>,
}

/// The counters of one route since the daemon started.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RouteCountView {
    /// Listener name.
    pub listener: String,
    /// The route's hosts joined by `,` (and ` alpn=...`), or `default`.
    pub route: String,
    /// Backend name.
    pub backend: String,
    /// Connections routed.
    pub connections: u64,
    /// Bytes client → backend.
    pub bytes_in: u64,
    /// Bytes backend → client.
    pub bytes_out: u64,
}

/// How often one server's health check changed its verdict to `to`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthTransitionView {
    /// Backend name.
    pub backend: String,
    /// The server's address.
    pub server: SocketAddr,
    /// `up` or `down`.
    pub to: String,
    /// How many times since the daemon started.
    pub count: u64,
}

/// A count of finished connections.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnCountView {
    /// Listener name.
    pub listener: String,
    /// Backend name (empty when none was chosen).
    pub backend: String,
    /// `ok`, `client_error`, `backend_error`, `no_route`, `timeout`, ...
    pub result: String,
    /// How many.
    pub count: u64,
}

/// A Prometheus histogram.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HistogramView {
    /// Upper bounds of the buckets, increasing (`+Inf` is implied).
    pub bounds: Vec<f64>,
    /// Cumulative counts, one per bound.
    pub counts: Vec<u64>,
    /// Sum of all observations.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
}

/// nftables apply figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NftApplyView {
    /// Duration of the last apply, seconds.
    pub last_duration_secs: f64,
    /// Whether the last apply succeeded.
    pub last_ok: bool,
    /// Successful applies since start.
    pub ok_total: u64,
    /// Failed applies since start.
    pub failed_total: u64,
}
