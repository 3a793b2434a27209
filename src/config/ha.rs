//! `[ha]`: the pair's VRRP id, virtual addresses, sync channel and the two
//! nodes. Typing and the checks that only concern the section. Pure.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::checker::Checker;
use super::file::{FileHa, FileHaNode};
use super::model::{Config, Ha, HaKey, HaNode};
use super::types::{IfAddr, Secret};

/// conntrackd's UDP port between the two internal addresses.
pub const CONNTRACKD_PORT: u16 = 3780;
/// UDP port of the drain tunnel (VXLAN) of a planned handover.
pub const DRAIN_PORT: u16 = 3781;
/// IP protocol number of VRRP.
pub const VRRP_PROTO: u8 = 112;
/// Default TCP port of the config sync channel.
pub const SYNC_PORT: u16 = 7443;
/// Default VRRP advertisement interval.
pub const ADVERT: Duration = Duration::from_secs(1);
/// VRRPv3 counts the interval in centiseconds, 1-4095.
const ADVERT_MIN: Duration = Duration::from_millis(10);
const ADVERT_MAX: Duration = Duration::from_millis(40_950);
/// Shortest inline key accepted: it authenticates the sync channel.
const KEY_MIN: usize = 16;

/// Types `[ha]`; `None` (with problems recorded) when it cannot be typed.
pub(crate) fn ha(c: &mut Checker, h: &FileHa) -> Option<Ha> {
    let vrid = match h.vrid {
        None => missing(c, "ha.vrid", "the VRRP virtual router id (1-255)"),
        Some(v) => match u8::try_from(v) {
            Ok(v) if v >= 1 => Some(v),
            _ => {
                c.err("ha.vrid", format!("{v} is out of range: 1-255"));
                None
            }
        },
    };
    let vip_public = vip(c, "ha.vip_public", h.vip_public.as_deref());
    let vip_internal = vip(c, "ha.vip_internal", h.vip_internal.as_deref());
    let advert = advert(c, h.advert.as_ref());
    let sync_port = match h.sync_port {
        None => Some(SYNC_PORT),
        Some(p) => match u16::try_from(p) {
            Ok(p) if p >= 1 => Some(p),
            _ => {
                c.err("ha.sync_port", format!("{p} is not a port (1-65535)"));
                None
            }
        },
    };
    let key = key(c, h);
    let nodes = nodes(c, &h.node, vip_internal);
    let mode = super::ha_neutron::neutron(
        c,
        h.mode.as_deref(),
        h.neutron.as_ref(),
        nodes
            .as_ref()
            .map(|[a, b]| [a.name.as_str(), b.name.as_str()]),
    );
    let (mode, neutron) = mode?;
    Some(Ha {
        vrid: vrid?,
        vip_public: vip_public?,
        vip_internal: vip_internal?,
        advert: advert?,
        sync_port: sync_port?,
        key: key?,
        nodes: nodes?,
        mode,
        neutron,
    })
}

fn missing<T>(c: &mut Checker, path: &str, what: &str) -> Option<T> {
    c.err(path, format!("is required: {what}"));
    None
}

fn vip(c: &mut Checker, path: &str, value: Option<&str>) -> Option<IfAddr> {
    let Some(v) = value else {
        return missing(
            c,
            path,
            "an IPv4 address with its prefix, e.g. \"192.168.10.4/24\"",
        );
    };
    let a: IfAddr = c.parse(path, v)?;
    if !a.0.addr().is_ipv4() {
        c.err(path, format!("{v:?}: the pair's virtual addresses are IPv4 (VRRP moves one address family per instance)"));
        return None;
    }
    if a.0.addr() == a.0.network() && a.0.prefix_len() < 31 {
        c.err(
            path,
            format!("{v:?} is a network address, not a host address"),
        );
        return None;
    }
    Some(a)
}

fn advert(c: &mut Checker, value: Option<&String>) -> Option<Duration> {
    let Some(v) = value else {
        return Some(ADVERT);
    };
    let d = super::types::parse_duration(v)
        .map_err(|e| c.err("ha.advert", e))
        .ok()?;
    if d < ADVERT_MIN || d > ADVERT_MAX || d.as_millis() % 10 != 0 {
        c.err(
            "ha.advert",
            format!("{v:?} is out of range: 10ms-40950ms in steps of 10ms (VRRPv3 centiseconds)"),
        );
        return None;
    }
    Some(d)
}

fn key(c: &mut Checker, h: &FileHa) -> Option<HaKey> {
    match (&h.key, &h.key_file) {
        (Some(_), Some(_)) => {
            c.err("ha.key", "give either ha.key or ha.key_file, not both");
            None
        }
        (None, None) => missing(
            c,
            "ha.key",
            "the pair's shared secret (ha.key, or ha.key_file naming a file that holds it)",
        ),
        (Some(k), None) => {
            if let Some(why) = super::types::redacted_problem(k) {
                c.err("ha.key", why);
                return None;
            }
            if k.trim().len() < KEY_MIN || k.chars().any(char::is_control) {
                c.err(
                    "ha.key",
                    format!("must be at least {KEY_MIN} printable characters (e.g. `openssl rand -hex 32`)"),
                );
                return None;
            }
            Some(HaKey::Inline(Secret(k.trim().to_string())))
        }
        (None, Some(f)) => {
            let p = PathBuf::from(f);
            if !p.is_absolute() {
                c.err("ha.key_file", format!("{f:?} must be an absolute path"));
                return None;
            }
            Some(HaKey::File(p))
        }
    }
}

fn nodes(c: &mut Checker, nodes: &[FileHaNode], vip: Option<IfAddr>) -> Option<[HaNode; 2]> {
    if nodes.len() != 2 {
        c.err(
            "ha.node",
            format!("a pair has exactly two [[ha.node]], found {}", nodes.len()),
        );
        return None;
    }
    let typed: Vec<Option<HaNode>> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| node(c, i, n, vip))
        .collect();
    let [Some(a), Some(b)] = <[Option<HaNode>; 2]>::try_from(typed).ok()? else {
        return None;
    };
    let mut ok = true;
    if a.name == b.name {
        c.err(
            "ha.node[1].name",
            format!("{:?} is already the name of ha.node[0]", b.name),
        );
        ok = false;
    }
    if a.address == b.address {
        c.err(
            "ha.node[1].address",
            format!("{} is already the address of ha.node[0]", b.address),
        );
        ok = false;
    }
    ok.then_some([a, b])
}

fn node(c: &mut Checker, i: usize, n: &FileHaNode, vip: Option<IfAddr>) -> Option<HaNode> {
    let at = |key: &str| format!("ha.node[{i}].{key}");
    let name = match &n.name {
        None => missing(c, &at("name"), "the node's name, e.g. \"a\""),
        Some(v) => {
            let before = c.problems.len();
            c.name(&at("name"), v);
            (c.problems.len() == before).then(|| v.clone())
        }
    };
    let address = match &n.address {
        None => missing(c, &at("address"), "the node's address on its internal port"),
        Some(v) => match v.parse::<IpAddr>() {
            Ok(a) => node_address(c, &at("address"), a, vip),
            Err(_) => {
                c.err(at("address"), format!("{v:?} is not an IP address"));
                None
            }
        },
    };
    let priority = match n.priority {
        None => missing(c, &at("priority"), "the node's VRRP priority (1-254)"),
        Some(p) => match u8::try_from(p) {
            Ok(p) if (1..=254).contains(&p) => Some(p),
            _ => {
                c.err(at("priority"), format!("{p} is out of range: 1-254"));
                None
            }
        },
    };
    Some(HaNode {
        name: name?,
        address: address?,
        priority: priority?,
    })
}

fn node_address(c: &mut Checker, path: &str, a: IpAddr, vip: Option<IfAddr>) -> Option<IpAddr> {
    let vip = vip?;
    if a == vip.0.addr() {
        c.err(
            path,
            format!("{a} is ha.vip_internal itself: a node needs its own address"),
        );
        return None;
    }
    if !vip.0.contains(&a) {
        c.err(
            path,
            format!("{a} is not in ha.vip_internal's network {}: the nodes and the internal VIP share the internal port's subnet", vip.0.trunc()),
        );
        return None;
    }
    Some(a)
}

/// Checks between `[ha]` and the rest: the sync channel's port is free on
/// the nodes' addresses.
pub(crate) fn cross(c: &mut Checker, cfg: &Config) {
    let Some(ha) = &cfg.ha else { return };
    // Both nodes run this file: a static address would be the same on both,
    // and the address plan would remove the VIPs keepalived adds.
    if let Some(ifs) = &cfg.interfaces {
        for (side, port) in [("public", &ifs.public), ("internal", &ifs.internal)] {
            if port.as_ref().is_some_and(|p| p.address.is_some()) {
                c.err(
                    format!("interfaces.{side}.address"),
                    "with [ha] both nodes run this file: leave the address to DHCP (each node keeps its own)",
                );
            }
        }
    }
    let mut binds: Vec<(String, std::net::SocketAddr)> = cfg
        .listeners
        .iter()
        .map(|l| (format!("listener {:?}", l.name), l.bind))
        .collect();
    binds.push(("admin.listen".into(), cfg.admin.listen));
    if let Some(m) = &cfg.metrics {
        binds.push(("metrics.listen".into(), m.listen));
    }
    for (who, at) in binds {
        let on_node = at.ip().is_unspecified() || ha.nodes.iter().any(|n| n.address == at.ip());
        if at.port() == ha.sync_port && on_node {
            c.err(
                "ha.sync_port",
                format!(
                    "port {} is already taken by {who} ({at}); choose another sync_port",
                    ha.sync_port
                ),
            );
        }
    }
}
