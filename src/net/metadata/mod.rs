//! OpenStack metadata: what Nova tells the VM about itself (`meta_data.json`),
//! its NICs and static networks (`network_data.json`) and the user data.
//! The types and [`parse`] are pure; [`source`] reads a folder, the config
//! drive or the metadata service (I/O); [`first_config`] turns user data
//! into the first parvis config (pure); [`networkd`] renders the
//! systemd-networkd files the image's first boot installs (pure).

mod first;
mod http;
pub mod networkd;
mod raw;
pub mod source;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::{Cidr, IfAddr, Mac, StaticRoute};

pub use first::{first_config, safe_default, FirstConfig};
/// The metadata service's HTTP answer: the body of a 200, `None` for a 404.
pub use http::parse_response as parse_service_response;
pub use source::{
    discover, fetch_service, read_config_drive, read_dir, read_service, RawDocs, Source,
};

/// Everything read from one metadata source.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Metadata {
    /// `meta_data.json`
    pub meta: MetaData,
    /// `network_data.json` (empty when the source has none).
    pub network: NetworkData,
    /// `user_data`, if any.
    #[serde(skip)]
    pub user_data: Option<Vec<u8>>,
}

/// `meta_data.json`: the fields parvis uses; Nova's others are ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MetaData {
    /// Instance UUID.
    pub uuid: Option<String>,
    /// Instance name.
    pub name: Option<String>,
    /// Host name.
    pub hostname: Option<String>,
    /// SSH keys by name.
    pub public_keys: BTreeMap<String, String>,
    /// The `data` of `keys` entries of type `ssh` (newer Nova).
    pub ssh_keys: Vec<String>,
    /// Devices, with their role tags.
    pub devices: Vec<Device>,
}

/// A device from `meta_data.json`'s `devices`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Device {
    /// MAC, for NICs.
    pub mac: Option<Mac>,
    /// Tags, e.g. `public` / `internal`.
    pub tags: Vec<String>,
}

/// `network_data.json`
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NetworkData {
    /// The NICs (`links`).
    pub links: Vec<Link>,
    /// The networks on them.
    pub networks: Vec<Network>,
    /// Name servers for every network (top-level `services` of type `dns`).
    pub dns: Vec<std::net::IpAddr>,
}

/// One entry of `links`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Link {
    /// Link id, referred to by `networks[].link`.
    pub id: String,
    /// MAC of the NIC.
    pub ethernet_mac_address: Option<Mac>,
    /// MTU of the Neutron network, if given.
    pub mtu: Option<u32>,
    /// `phy`, `ovs`, `vif`, `bridge`, …
    pub kind: String,
}

/// How a network is configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkKind {
    /// `ipv4`: a static address.
    Ipv4,
    /// `ipv6`: a static address.
    Ipv6,
    /// Anything else (`ipv4_dhcp`, `ipv6_slaac`, …): the address comes from
    /// DHCP or router advertisements, and parvis keeps it.
    Dynamic(String),
}

/// One entry of `networks`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Network {
    /// Network id.
    pub id: String,
    /// The link it lives on.
    pub link: String,
    /// Static or dynamic.
    pub kind: NetworkKind,
    /// Static address with prefix (only for `ipv4`/`ipv6`).
    pub address: Option<IfAddr>,
    /// Routes (only for `ipv4`/`ipv6`).
    pub routes: Vec<StaticRoute>,
    /// Name servers of this network (its `services` of type `dns`).
    pub dns: Vec<std::net::IpAddr>,
}

impl Metadata {
    /// The MACs of the devices tagged `tag` (case-insensitive).
    pub fn tagged(&self, tag: &str) -> Vec<Mac> {
        self.meta
            .devices
            .iter()
            .filter(|d| d.tags.iter().any(|t| t.eq_ignore_ascii_case(tag)))
            .filter_map(|d| d.mac)
            .collect()
    }
    /// The `links` entry for the NIC with this MAC. A VLAN or bond on top
    /// of the NIC carries the same MAC; the NIC's own entry is preferred.
    pub fn link_for(&self, mac: Mac) -> Option<&Link> {
        let mut same = self
            .network
            .links
            .iter()
            .filter(|l| l.ethernet_mac_address == Some(mac));
        let first = same.clone().next();
        same.find(|l| !matches!(l.kind.as_str(), "vlan" | "bond"))
            .or(first)
    }
    /// The static networks on the NIC with this MAC.
    pub fn static_networks(&self, mac: Mac) -> Vec<&Network> {
        let Some(link) = self.link_for(mac) else {
            return Vec::new();
        };
        self.network
            .networks
            .iter()
            .filter(|n| n.link == link.id)
            .filter(|n| matches!(n.kind, NetworkKind::Ipv4 | NetworkKind::Ipv6))
            .collect()
    }
}

/// A metadata problem: names the file and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// The file could not be read.
    #[error("cannot read {file}: {source}")]
    Read {
        /// The file.
        file: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not JSON at all.
    #[error("{file} is not JSON ({detail}); expected a JSON object")]
    NotJson {
        /// The file.
        file: String,
        /// The parser's message.
        detail: String,
    },
    /// The file is JSON but not of the expected shape.
    #[error("{file}: expected {expected}; found: {detail}")]
    Shape {
        /// The file.
        file: String,
        /// What it should hold.
        expected: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// A field holds a value parvis cannot use.
    #[error("{file}: {field}: {detail}")]
    Value {
        /// The file.
        file: String,
        /// The field path, e.g. `networks[1].netmask`.
        field: String,
        /// What was wrong.
        detail: String,
    },
    /// The metadata service did not answer as expected.
    #[error("metadata service {url}: {detail}")]
    Service {
        /// The URL asked.
        url: String,
        /// What happened.
        detail: String,
    },
    /// The config drive could not be mounted.
    #[error("config drive {device}: {detail}")]
    Mount {
        /// The block device.
        device: String,
        /// What happened.
        detail: String,
    },
}

/// Parses the three documents. `origin` prefixes file names in errors
/// (a folder, `config drive /dev/sr0`, or the service URL).
pub fn parse(
    origin: &str,
    meta: &[u8],
    network: Option<&[u8]>,
    user_data: Option<Vec<u8>>,
) -> Result<Metadata, MetadataError> {
    let meta = raw::meta_data(&format!("{origin}/openstack/latest/meta_data.json"), meta)?;
    let network = match network {
        Some(bytes) => raw::network_data(
            &format!("{origin}/openstack/latest/network_data.json"),
            bytes,
        )?,
        None => NetworkData::default(),
    };
    Ok(Metadata {
        meta,
        network,
        user_data,
    })
}

/// A netmask (`255.255.255.0`, `ffff:ffff::`) as a prefix length.
pub fn prefix_len(mask: std::net::IpAddr) -> Option<u8> {
    let bits: u128 = match mask {
        std::net::IpAddr::V4(v4) => u128::from(u32::from(v4)) << 96,
        std::net::IpAddr::V6(v6) => u128::from(v6),
    };
    let ones = bits.leading_ones();
    // A mask is contiguous ones then zeros.
    if bits.checked_shl(ones).unwrap_or(0) != 0 {
        return None;
    }
    u8::try_from(ones).ok()
}

/// A destination prefix from `network` and `netmask`, host bits cleared.
pub(crate) fn cidr_of(network: std::net::IpAddr, mask: std::net::IpAddr) -> Option<Cidr> {
    if network.is_ipv4() != mask.is_ipv4() {
        return None;
    }
    let len = prefix_len(mask)?;
    format!("{network}/{len}").parse().ok()
}

#[cfg(test)]
mod tests;
