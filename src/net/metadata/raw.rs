//! The JSON documents as Nova writes them, and their conversion into the
//! typed [`super::Metadata`]. Unknown fields are ignored (Nova adds fields
//! over releases); a value parvis needs but cannot read is an error naming
//! the file and the field. Pure.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::{
    cidr_of, prefix_len, Device, Link, MetaData, MetadataError, Network, NetworkData, NetworkKind,
};
use crate::config::{IfAddr, Mac, StaticRoute};

#[derive(Deserialize)]
struct RawMeta {
    uuid: Option<String>,
    name: Option<String>,
    hostname: Option<String>,
    #[serde(default)]
    public_keys: BTreeMap<String, String>,
    #[serde(default)]
    devices: Vec<RawDevice>,
    #[serde(default)]
    keys: Vec<RawKey>,
}

#[derive(Deserialize)]
struct RawKey {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    data: String,
}

#[derive(Deserialize)]
struct RawDevice {
    mac: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Deserialize)]
struct RawNetwork {
    links: Vec<RawLink>,
    #[serde(default)]
    networks: Vec<RawNet>,
    #[serde(default)]
    services: Vec<RawService>,
}

#[derive(Deserialize)]
struct RawService {
    #[serde(rename = "type", default)]
    kind: String,
    address: Option<String>,
}

#[derive(Deserialize)]
struct RawLink {
    id: String,
    ethernet_mac_address: Option<String>,
    mtu: Option<u32>,
    #[serde(rename = "type", default)]
    kind: String,
}

#[derive(Deserialize)]
struct RawNet {
    #[serde(default)]
    id: String,
    link: String,
    #[serde(rename = "type")]
    kind: String,
    ip_address: Option<String>,
    netmask: Option<String>,
    #[serde(default)]
    routes: Vec<RawRoute>,
    #[serde(default)]
    services: Vec<RawService>,
}

#[derive(Deserialize)]
struct RawRoute {
    network: String,
    netmask: String,
    gateway: String,
}

/// Deserializes `bytes`, telling "not JSON" apart from "JSON of the wrong shape".
fn decode<T: DeserializeOwned>(
    file: &str,
    bytes: &[u8],
    expected: &'static str,
) -> Result<T, MetadataError> {
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => MetadataError::Shape {
            file: file.to_string(),
            expected,
            detail: e.to_string(),
        },
        _ => MetadataError::NotJson {
            file: file.to_string(),
            detail: e.to_string(),
        },
    })
}

fn value_err(file: &str, field: String, detail: String) -> MetadataError {
    MetadataError::Value {
        file: file.to_string(),
        field,
        detail,
    }
}

fn mac(file: &str, field: String, text: Option<&str>) -> Result<Option<Mac>, MetadataError> {
    text.map(|t| t.parse::<Mac>().map_err(|e| value_err(file, field, e)))
        .transpose()
}

/// `meta_data.json`
pub(super) fn meta_data(file: &str, bytes: &[u8]) -> Result<MetaData, MetadataError> {
    let raw: RawMeta = decode(file, bytes, "a JSON object with `uuid`, `devices`, …")?;
    let devices = raw
        .devices
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            Ok(Device {
                mac: mac(file, format!("devices[{i}].mac"), d.mac.as_deref())?,
                tags: d.tags,
            })
        })
        .collect::<Result<_, MetadataError>>()?;
    Ok(MetaData {
        uuid: raw.uuid,
        name: raw.name,
        hostname: raw.hostname,
        public_keys: raw.public_keys,
        ssh_keys: raw
            .keys
            .into_iter()
            .filter(|k| k.kind == "ssh")
            .map(|k| k.data)
            .collect(),
        devices,
    })
}

/// `network_data.json`
pub(super) fn network_data(file: &str, bytes: &[u8]) -> Result<NetworkData, MetadataError> {
    let raw: RawNetwork = decode(
        file,
        bytes,
        "a JSON object with `links` (the NICs, by `ethernet_mac_address`) and `networks`",
    )?;
    let links = raw
        .links
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            Ok(Link {
                ethernet_mac_address: mac(
                    file,
                    format!("links[{i}].ethernet_mac_address"),
                    l.ethernet_mac_address.as_deref(),
                )?,
                id: l.id,
                mtu: l.mtu,
                kind: l.kind,
            })
        })
        .collect::<Result<_, MetadataError>>()?;
    let networks = raw
        .networks
        .into_iter()
        .enumerate()
        .map(|(i, n)| network(file, i, n))
        .collect::<Result<_, MetadataError>>()?;
    let dns = dns(file, "services", &raw.services)?;
    Ok(NetworkData {
        links,
        networks,
        dns,
    })
}

/// The addresses of the `dns` entries of a `services` list.
fn dns(file: &str, at: &str, services: &[RawService]) -> Result<Vec<IpAddr>, MetadataError> {
    services
        .iter()
        .enumerate()
        .filter(|(_, s)| s.kind == "dns")
        .filter_map(|(k, s)| Some((k, s.address.as_deref()?)))
        .map(|(k, a)| ip(file, format!("{at}[{k}].address"), a))
        .collect()
}

fn ip(file: &str, field: String, text: &str) -> Result<IpAddr, MetadataError> {
    text.parse()
        .map_err(|_| value_err(file, field, format!("{text:?} is not an IP address")))
}

fn network(file: &str, i: usize, n: RawNet) -> Result<Network, MetadataError> {
    let at = format!("networks[{i}]");
    let kind = match n.kind.as_str() {
        "ipv4" => NetworkKind::Ipv4,
        "ipv6" => NetworkKind::Ipv6,
        other => NetworkKind::Dynamic(other.to_string()),
    };
    if let NetworkKind::Dynamic(_) = kind {
        return Ok(Network {
            id: n.id,
            link: n.link,
            kind,
            address: None,
            routes: Vec::new(),
            dns: Vec::new(),
        });
    }
    let address = static_address(file, &at, n.ip_address.as_deref(), n.netmask.as_deref())?;
    let routes = n
        .routes
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let rat = format!("{at}.routes[{k}]");
            let net = ip(file, format!("{rat}.network"), &r.network)?;
            let mask = ip(file, format!("{rat}.netmask"), &r.netmask)?;
            let via = ip(file, format!("{rat}.gateway"), &r.gateway)?;
            let to = cidr_of(net, mask).ok_or_else(|| {
                value_err(
                    file,
                    format!("{rat}.netmask"),
                    format!("{:?} is not a netmask for {:?}", r.netmask, r.network),
                )
            })?;
            if to.is_ipv4() != via.is_ipv4() {
                return Err(value_err(
                    file,
                    format!("{rat}.gateway"),
                    "is of another address family than `network`".into(),
                ));
            }
            Ok(StaticRoute { to, via })
        })
        .collect::<Result<_, MetadataError>>()?;
    let dns = dns(file, &format!("{at}.services"), &n.services)?;
    Ok(Network {
        id: n.id,
        link: n.link,
        kind,
        address: Some(address),
        routes,
        dns,
    })
}

/// `ip_address` (maybe with `/len`) and `netmask` of a static network.
fn static_address(
    file: &str,
    at: &str,
    ip_address: Option<&str>,
    netmask: Option<&str>,
) -> Result<IfAddr, MetadataError> {
    let text = ip_address.ok_or_else(|| {
        value_err(
            file,
            at.to_string(),
            "a static network (type ipv4/ipv6) needs `ip_address`".into(),
        )
    })?;
    if let Ok(net) = text.parse::<ipnet::IpNet>() {
        return Ok(IfAddr(net));
    }
    let addr = ip(file, format!("{at}.ip_address"), text)?;
    let len = match netmask {
        Some(m) => {
            let mask = ip(file, format!("{at}.netmask"), m)?;
            prefix_len(mask)
                .filter(|_| mask.is_ipv4() == addr.is_ipv4())
                .ok_or_else(|| {
                    value_err(
                        file,
                        format!("{at}.netmask"),
                        format!("{m:?} is not a netmask for {text:?}"),
                    )
                })?
        }
        None => {
            return Err(value_err(
                file,
                at.to_string(),
                format!("{text:?} has no prefix length and there is no `netmask`"),
            ))
        }
    };
    ipnet::IpNet::new(addr, len)
        .map(IfAddr)
        .map_err(|e| value_err(file, format!("{at}.netmask"), e.to_string()))
}
