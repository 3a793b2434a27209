//! `FileConfig`: the TOML file exactly as the operator wrote it (serde,
//! unknown keys rejected). Values stay strings here; `validate` types them.
//! Pure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The whole file.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// `[appliance]`
    #[serde(default)]
    pub appliance: FileAppliance,
    /// `[interfaces]`
    pub interfaces: Option<FileInterfaces>,
    /// `[admin]`
    pub admin: Option<FileAdmin>,
    /// `[limits]`
    pub limits: Option<FileLimits>,
    /// `[[listener]]`
    #[serde(default)]
    pub listener: Vec<FileListener>,
    /// `[[route]]`
    #[serde(default)]
    pub route: Vec<FileRoute>,
    /// `[backend.NAME]`
    #[serde(default)]
    pub backend: BTreeMap<String, FileBackend>,
    /// `[[forward]]`
    #[serde(default)]
    pub forward: Vec<FileForward>,
    /// `[egress]`
    pub egress: Option<FileEgress>,
    /// `[metrics]`
    pub metrics: Option<FileMetrics>,
    /// `[ha]`: a pair of appliances.
    pub ha: Option<FileHa>,
    /// `[log]`: the connection log's collector.
    pub log: Option<super::log::FileLog>,
}

/// `[appliance]`
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileAppliance {
    /// Shown in the UI, logs and metrics.
    pub name: Option<String>,
    /// Config history, certificate, password hash.
    pub state_dir: Option<String>,
    /// Global cap on concurrent forwarded connections.
    pub max_connections: Option<u32>,
}

/// `[interfaces]`
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileInterfaces {
    /// The port on the floating-IP network.
    pub public: Option<FilePort>,
    /// The port on the Kubernetes network.
    pub internal: Option<FilePort>,
}

/// One port under `[interfaces]`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FilePort {
    /// Find the NIC by MAC.
    pub mac: Option<String>,
    /// Find the NIC by name.
    pub name: Option<String>,
    /// Static address with prefix.
    pub address: Option<String>,
    /// Default gateway (public side).
    pub gateway: Option<String>,
    /// MTU.
    pub mtu: Option<u32>,
    /// Extra routes.
    #[serde(default)]
    pub routes: Vec<FileStaticRoute>,
}

/// `{ to = "10.42.0.0/16", via = "10.0.0.1" }`
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileStaticRoute {
    /// Destination prefix.
    pub to: String,
    /// Next hop.
    pub via: String,
}

/// `[admin]`
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileAdmin {
    /// HTTPS listen address.
    pub listen: Option<String>,
    /// Sources allowed to reach the admin port and SSH.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Certificate (PEM).
    pub tls_cert: Option<String>,
    /// Key (PEM).
    pub tls_key: Option<String>,
    /// SSH port opened to `allow` (default 22).
    pub ssh_port: Option<u16>,
}

/// `[limits]`
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileLimits {
    /// New connections per source.
    pub conn_rate: Option<String>,
    /// Burst above the rate.
    pub conn_burst: Option<u32>,
    /// Concurrent connections per source.
    pub conn_max: Option<u32>,
    /// Ban duration for sources over the rate.
    pub ban: Option<String>,
    /// IPv6 sources are metered and banned per prefix of this length.
    pub ipv6_prefix: Option<u8>,
    /// Sources each meter and ban set holds.
    pub meter_size: Option<u32>,
    /// Always dropped.
    #[serde(default)]
    pub block: Vec<String>,
    /// A file of prefixes to drop, one per line.
    pub block_file: Option<String>,
}

/// `[[listener]]`
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileListener {
    /// Unique name.
    pub name: Option<String>,
    /// `ADDR:PORT`
    pub bind: Option<String>,
    /// `tls` or `http`
    pub protocol: Option<String>,
    /// Backend for no SNI/Host or an unknown one.
    pub default_backend: Option<String>,
    /// Peers whose PROXY header is trusted.
    #[serde(default)]
    pub accept_proxy: Vec<String>,
    /// Time allowed for the ClientHello / request head.
    pub hello_timeout: Option<String>,
    /// Idle time after which a relayed connection is closed.
    pub idle_timeout: Option<String>,
    /// Cap on this listener's concurrent connections.
    pub max_connections: Option<u32>,
}

/// `[[route]]`
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileRoute {
    /// Listener name.
    pub listener: Option<String>,
    /// Host names and wildcards.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Backend name.
    pub backend: Option<String>,
    /// ALPN protocols, one of which the ClientHello must offer.
    pub alpn: Option<Vec<String>>,
}

/// `[backend.NAME]`
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileBackend {
    /// `ADDR:PORT` each.
    #[serde(default)]
    pub servers: Vec<String>,
    /// `v1`, `v2` or `off`.
    pub proxy_protocol: Option<String>,
    /// `round-robin`, `least-conn` or `source-hash`.
    pub balance: Option<String>,
    /// Active health check.
    pub health: Option<FileHealth>,
    /// Extra PROXY v2 TLVs: `alpn`, `unique_id`.
    pub proxy_v2_tlvs: Option<Vec<String>>,
}

/// `health = { ... }`
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileHealth {
    /// Between checks.
    pub interval: Option<String>,
    /// Connect timeout.
    pub timeout: Option<String>,
    /// Failures before down.
    pub fall: Option<u32>,
    /// Successes before up.
    pub rise: Option<u32>,
}

/// A port given as a number or a `"A-B"` string.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum FilePorts {
    /// `2222`
    Number(i64),
    /// `"30000-30100"`
    Text(String),
}

// Written by hand so that a wrong type says what a port looks like instead
// of serde's "did not match any variant of untagged enum".
impl<'de> Deserialize<'de> for FilePorts {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Ports;
        impl serde::de::Visitor<'_> for Ports {
            type Value = FilePorts;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a port number or a range such as \"30000-30100\"")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<FilePorts, E> {
                Ok(FilePorts::Number(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<FilePorts, E> {
                Ok(FilePorts::Number(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<FilePorts, E> {
                Ok(FilePorts::Text(v.to_string()))
            }
        }
        d.deserialize_any(Ports)
    }
}

/// `[[forward]]`
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileForward {
    /// `tcp` or `udp`.
    pub proto: Option<String>,
    /// Port or range.
    pub port: Option<FilePorts>,
    /// `ADDR:PORT` or `ADDR`.
    pub to: Option<String>,
    /// SNAT to the internal address.
    pub masquerade: Option<bool>,
    /// Source allow-list.
    #[serde(default)]
    pub allow: Vec<String>,
}

/// `[egress]`
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileEgress {
    /// Internal prefixes masqueraded on the way out.
    #[serde(default)]
    pub masquerade: Vec<String>,
}

/// `[metrics]`
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileMetrics {
    /// Prometheus listen address.
    pub listen: Option<String>,
}

/// `[ha]`: the pair's shared settings.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileHa {
    /// VRRP virtual router id, 1-255.
    pub vrid: Option<i64>,
    /// The address the floating IP points at, with its prefix.
    pub vip_public: Option<String>,
    /// The Kubernetes nodes' gateway and SNAT source, with its prefix.
    pub vip_internal: Option<String>,
    /// VRRP advertisement interval.
    pub advert: Option<String>,
    /// TCP port of the config sync channel between the nodes.
    pub sync_port: Option<i64>,
    /// The pair's shared secret (authenticates the sync channel), inline.
    pub key: Option<String>,
    /// The pair's shared secret, read from this file.
    pub key_file: Option<String>,
    /// How the floating IP follows the master: "vrrp" or "neutron".
    pub mode: Option<String>,
    /// `[ha.neutron]`: the API the "neutron" mode calls.
    pub neutron: Option<super::ha_neutron::FileHaNeutron>,
    /// `[[ha.node]]`: exactly two.
    #[serde(default)]
    pub node: Vec<FileHaNode>,
}

/// `[[ha.node]]`
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileHaNode {
    /// The node's name, shown in status and logs.
    pub name: Option<String>,
    /// Its address on the internal port.
    pub address: Option<String>,
    /// VRRP priority, 1-254.
    pub priority: Option<i64>,
}
