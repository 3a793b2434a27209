//! `[interfaces]`: how each NIC is found, its static address, gateway and
//! routes. Pure: typing only, nothing is looked up on the system.

use super::file::{FileInterfaces, FilePort};
use super::model::{Interfaces, Port, PortSelector, StaticRoute};
use super::types::{Cidr, IfAddr, Mac};
use super::validate::Checker;

/// Types `[interfaces]`; both ports naming the same NIC is a problem.
pub(crate) fn interfaces(c: &mut Checker, i: &FileInterfaces) -> Interfaces {
    let public = i.public.as_ref().map(|p| port(c, "interfaces.public", p));
    let internal = i
        .internal
        .as_ref()
        .map(|p| port(c, "interfaces.internal", p));
    if let (Some(a), Some(b)) = (&public, &internal) {
        let key = match &b.select {
            PortSelector::Mac(_) => "mac",
            PortSelector::Name(_) => "name",
            PortSelector::Tag => "",
        };
        if a.select == b.select && !key.is_empty() {
            c.err(
                format!("interfaces.internal.{key}"),
                "names the same NIC as `interfaces.public`",
            );
        }
    }
    Interfaces { public, internal }
}

/// Types one port (`interfaces.public` or `interfaces.internal`).
fn port(c: &mut Checker, path: &str, p: &FilePort) -> Port {
    let select = match (&p.mac, &p.name) {
        (Some(_), Some(_)) => {
            c.err(path, "give either `mac` or `name`, not both");
            PortSelector::Tag
        }
        (Some(m), None) => c
            .parse::<Mac>(&format!("{path}.mac"), m)
            .map_or(PortSelector::Tag, PortSelector::Mac),
        (None, Some(n)) => {
            if n.is_empty() || n.len() > 15 || n.contains(['/', ' ']) {
                c.err(
                    format!("{path}.name"),
                    format!("{n:?} is not an interface name (1-15 characters)"),
                );
            }
            PortSelector::Name(n.clone())
        }
        (None, None) => PortSelector::Tag,
    };
    let address: Option<IfAddr> = p
        .address
        .as_ref()
        .and_then(|a| c.parse(&format!("{path}.address"), a));
    let gateway = p.gateway.as_ref().and_then(|g| {
        g.parse()
            .map_err(|_| {
                c.err(
                    format!("{path}.gateway"),
                    format!("{g:?} is not an IP address"),
                )
            })
            .ok()
    });
    if let Some(mtu) = p.mtu.filter(|m| !(576..=9000).contains(m)) {
        c.err(format!("{path}.mtu"), format!("{mtu} is outside 576-9000"));
    }
    let routes = p
        .routes
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let at = format!("{path}.routes[{i}]");
            let to = c.parse::<Cidr>(&format!("{at}.to"), &r.to);
            let via = r
                .via
                .parse()
                .map_err(|_| {
                    c.err(
                        format!("{at}.via"),
                        format!("{:?} is not an IP address", r.via),
                    )
                })
                .ok();
            Some(StaticRoute { to: to?, via: via? })
        })
        .collect();
    Port {
        select,
        address,
        gateway,
        mtu: p.mtu,
        routes,
    }
}
