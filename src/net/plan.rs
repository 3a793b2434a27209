//! `plan`: from the config, the links as they are and the OpenStack
//! metadata, the changes that make the links what they should be. Pure;
//! a plan against a system already in shape is empty.
//!
//! Per port, the config wins over the metadata, item by item: MTU (config,
//! else the metadata link's `mtu`, else left alone), addresses (config,
//! else the metadata's static networks, else what DHCP gave is kept), the
//! default route (config `gateway`, else on the public side the metadata's
//! `0.0.0.0/0` or `::/0` route) and extra routes (config `routes` plus the
//! metadata's other routes). When the config sets a port's address, the
//! metadata's routes for that port are not used: they belong to a subnet
//! the config replaced.

use std::net::IpAddr;

use super::metadata::Metadata;
use super::{resolve, Assignment, NetChange, NetError, Observed, ObservedLink, Role};
use crate::config::{Config, IfAddr, Port, StaticRoute};

/// What one port should look like.
struct Target<'a> {
    link: &'a ObservedLink,
    mtu: Option<u32>,
    addresses: Vec<IfAddr>,
    routes: Vec<StaticRoute>,
}

/// Computes every change before any is made: an error means nothing is to
/// be touched. Without `[interfaces]` the links are left alone.
pub fn plan(
    cfg: &Config,
    observed: &Observed,
    meta: Option<&Metadata>,
) -> Result<Vec<NetChange>, NetError> {
    let Some(ifs) = &cfg.interfaces else {
        return Ok(Vec::new());
    };
    let roles = resolve(ifs, observed, meta)?;
    let pairs = [
        (roles.public.as_ref(), ifs.public.as_ref()),
        (roles.internal.as_ref(), ifs.internal.as_ref()),
    ];
    let targets: Vec<Target> = pairs
        .into_iter()
        .filter_map(|(a, p)| Some(target(a?, p?, observed, meta)))
        .flatten()
        .collect();
    check_defaults(&targets)?;
    let mut changes: Vec<NetChange> = targets.iter().flat_map(link_changes).collect();
    changes.extend(targets.iter().flat_map(addr_changes));
    changes.extend(
        targets
            .iter()
            .flat_map(|t| t.routes.iter().filter_map(|r| route_change(t, r, observed))),
    );
    Ok(changes)
}

/// The default route of `via`'s family (`0.0.0.0/0` or `::/0`).
fn default_route(via: IpAddr) -> Option<StaticRoute> {
    let text = if via.is_ipv4() { "0.0.0.0/0" } else { "::/0" };
    text.parse().ok().map(|to| StaticRoute { to, via })
}

fn target<'a>(
    a: &Assignment,
    port: &Port,
    observed: &'a Observed,
    meta: Option<&Metadata>,
) -> Option<Target<'a>> {
    let link = observed.link(a.index)?;
    let meta_link = meta.zip(link.mac).and_then(|(m, mac)| m.link_for(mac));
    let networks = meta
        .zip(link.mac)
        .map(|(m, mac)| m.static_networks(mac))
        .unwrap_or_default();
    let from_meta = port.address.is_none();
    let addresses = match port.address {
        Some(a) => vec![a],
        None => networks.iter().filter_map(|n| n.address).collect(),
    };
    let mut routes: Vec<StaticRoute> = port
        .gateway
        .and_then(default_route)
        .into_iter()
        .chain(port.routes.iter().cloned())
        .collect();
    if from_meta {
        for r in networks.iter().flat_map(|n| n.routes.iter()) {
            let is_default = r.to.prefix_len() == 0;
            let covered = routes.iter().any(|x| x.to == r.to);
            if !covered && (!is_default || a.role == Role::Public) {
                routes.push(r.clone());
            }
        }
    }
    Some(Target {
        link,
        mtu: port.mtu.or(meta_link.and_then(|l| l.mtu)),
        addresses,
        routes,
    })
}

fn check_defaults(targets: &[Target]) -> Result<(), NetError> {
    let defaults: Vec<(&Target, &StaticRoute)> = targets
        .iter()
        .flat_map(|t| t.routes.iter().map(move |r| (t, r)))
        .filter(|(_, r)| r.to.prefix_len() == 0)
        .collect();
    for (i, (t1, r1)) in defaults.iter().enumerate() {
        if let Some((t2, r2)) = defaults[i + 1..]
            .iter()
            .find(|(_, r2)| r2.to.is_ipv4() == r1.to.is_ipv4())
        {
            return Err(NetError::TwoDefaults {
                family: if r1.to.is_ipv4() { "IPv4" } else { "IPv6" },
                first: format!("{} dev {}", r1.via, t1.link.name),
                second: format!("{} dev {}", r2.via, t2.link.name),
            });
        }
    }
    Ok(())
}

fn link_changes(t: &Target) -> Vec<NetChange> {
    let (dev, index) = (t.link.name.clone(), t.link.index);
    let mut out = Vec::new();
    if let Some(mtu) = t.mtu.filter(|m| *m != t.link.mtu) {
        out.push(NetChange::LinkSetMtu {
            dev: dev.clone(),
            index,
            mtu,
        });
    }
    if !t.link.up {
        out.push(NetChange::LinkSetUp { dev, index });
    }
    out
}

/// Link-local addresses belong to the kernel and to the metadata path.
fn is_link_local(a: &IfAddr) -> bool {
    match a.0.addr() {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

/// Static addresses replace the other addresses of their family (deleted
/// first: deleting a primary IPv4 address also removes its secondaries).
fn addr_changes(t: &Target) -> Vec<NetChange> {
    let (dev, index) = (&t.link.name, t.link.index);
    let owned = |a: &IfAddr| {
        t.addresses
            .iter()
            .any(|d| d.0.addr().is_ipv4() == a.0.addr().is_ipv4())
    };
    let dels = t
        .link
        .addresses
        .iter()
        .filter(|a| owned(a) && !is_link_local(a) && !t.addresses.contains(a))
        .map(|a| NetChange::AddrDel {
            dev: dev.clone(),
            index,
            addr: *a,
        });
    let adds = t
        .addresses
        .iter()
        .filter(|a| !t.link.addresses.contains(a))
        .map(|a| NetChange::AddrAdd {
            dev: dev.clone(),
            index,
            addr: *a,
        });
    dels.chain(adds).collect()
}

fn route_change(t: &Target, r: &StaticRoute, observed: &Observed) -> Option<NetChange> {
    let same_to: Vec<_> = observed.routes.iter().filter(|o| o.to == r.to).collect();
    if same_to
        .iter()
        .any(|o| o.via == Some(r.via) && o.dev == Some(t.link.index))
    {
        return None;
    }
    let (dev, index, to, via) = (t.link.name.clone(), t.link.index, r.to, r.via);
    Some(if same_to.is_empty() {
        NetChange::RouteAdd {
            dev,
            index,
            to,
            via,
        }
    } else {
        NetChange::RouteReplace {
            dev,
            index,
            to,
            via,
        }
    })
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
