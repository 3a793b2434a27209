//! The systemd-networkd files for the image's first boot, rendered from the
//! typed `network_data.json`: one `10-parvis-MAC.network` per NIC. Every
//! value written is a parsed address, prefix, MAC or number, so nothing
//! from the metadata can add a line or a directive. Pure.

use std::collections::BTreeSet;
use std::fmt::Write;
use std::net::IpAddr;

use super::{Metadata, MetadataError, NetworkKind};
use crate::config::Mac;

/// MTUs written: what Linux accepts for IPv4 on Ethernet up to jumbo frames.
const MTU_RANGE: std::ops::RangeInclusive<u32> = 68..=65_535;

/// One file to write: its name (in `/etc/systemd/network/`) and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkFile {
    /// `10-parvis-fa163e123456.network`
    pub name: String,
    /// The file's contents.
    pub text: String,
    /// One line for the console: the port, whether public, its addresses.
    pub summary: String,
}

/// The files for every NIC in the metadata. The public port (tagged
/// `public`, else the first with a default route) also gets the default
/// route and the global name servers.
pub fn render(meta: &Metadata) -> Result<Vec<NetworkFile>, MetadataError> {
    let public = public_mac(meta);
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for link in &meta.network.links {
        let Some(mac) = link.ethernet_mac_address else {
            continue;
        };
        if !seen.insert(mac.to_string()) {
            continue;
        }
        if let Some(mtu) = link.mtu.filter(|m| !MTU_RANGE.contains(m)) {
            return Err(MetadataError::Value {
                file: "network_data.json".into(),
                field: format!("links[id={}].mtu", printable(&link.id)),
                detail: format!("{mtu} is outside 68-65535"),
            });
        }
        out.push(file(meta, mac, Some(mac) == public));
    }
    Ok(out)
}

/// The public NIC: the device tagged `public`, else the first link whose
/// static networks carry a default route.
fn public_mac(meta: &Metadata) -> Option<Mac> {
    if let Some(mac) = meta.tagged("public").first() {
        return Some(*mac);
    }
    meta.network
        .links
        .iter()
        .filter_map(|l| l.ethernet_mac_address)
        .find(|mac| {
            meta.static_networks(*mac)
                .iter()
                .any(|n| n.routes.iter().any(|r| r.to.prefix_len() == 0))
        })
}

fn file(meta: &Metadata, mac: Mac, public: bool) -> NetworkFile {
    let link = meta.link_for(mac);
    let id = link.map(|l| printable(&l.id)).unwrap_or_default();
    let nets: Vec<_> = link
        .map(|l| {
            meta.network
                .networks
                .iter()
                .filter(|n| n.link == l.id)
                .collect()
        })
        .unwrap_or_default();
    let dynamic = |p: &dyn Fn(&str) -> bool| {
        nets.iter()
            .any(|n| matches!(&n.kind, NetworkKind::Dynamic(k) if p(k)))
    };
    let dhcp4 = dynamic(&|k| k == "ipv4_dhcp");
    let ra6 = dynamic(&|k| k.starts_with("ipv6_dhcp") || k.starts_with("ipv6_slaac"));
    let statics: Vec<_> = nets.iter().filter(|n| n.address.is_some()).collect();
    let mut t = String::new();
    let _ = writeln!(t, "# Written by parvis from network_data.json link {id}");
    let _ = write!(t, "[Match]\nMACAddress={mac}\n\n");
    if let Some(mtu) = link.and_then(|l| l.mtu) {
        let _ = write!(t, "[Link]\nMTUBytes={mtu}\n\n");
    }
    let yes = |b: bool, y: &'static str| if b { y } else { "no" };
    let _ = writeln!(t, "[Network]\nDHCP={}", yes(dhcp4, "ipv4"));
    let _ = writeln!(t, "IPv6AcceptRA={}", yes(ra6, "yes"));
    let _ = writeln!(t, "LinkLocalAddressing={}", yes(ra6, "ipv6"));
    t.push_str("KeepConfiguration=static\n");
    let addrs: Vec<String> = statics
        .iter()
        .filter_map(|n| n.address.as_ref())
        .map(|a| a.0.to_string())
        .collect();
    for a in &addrs {
        let _ = writeln!(t, "Address={a}");
    }
    let mut dns: BTreeSet<IpAddr> = statics.iter().flat_map(|n| n.dns.clone()).collect();
    if public {
        dns.extend(meta.network.dns.iter().copied());
    }
    for d in dns {
        let _ = writeln!(t, "DNS={d}");
    }
    for r in statics.iter().flat_map(|n| &n.routes) {
        if r.to.prefix_len() != 0 {
            let _ = write!(t, "\n[Route]\nDestination={}\nGateway={}\n", r.to, r.via);
        } else if public {
            let _ = write!(t, "\n[Route]\nGateway={}\n", r.via);
        }
    }
    let role = if public { ", public" } else { "" };
    NetworkFile {
        name: format!("10-parvis-{}.network", mac.to_string().replace(':', "")),
        text: t,
        summary: format!("port {mac} ({id}{role}): {}", addrs.join(" ")),
    }
}

/// A link id as it may appear in a comment: printable ASCII only.
fn printable(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
        .take(64)
        .collect()
}

#[cfg(test)]
#[path = "networkd_tests.rs"]
mod tests;
