//! `[interfaces]`: how each NIC is found, its static address, gateway and
//! routes. Pure: typing only, nothing is looked up on the system.

use std::net::IpAddr;

use super::checker::Checker;
use super::file::{FileInterfaces, FilePort};
use super::model::{Interfaces, Port, PortSelector, StaticRoute};
use super::types::{Cidr, IfAddr, Mac};

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
    if let (Some(a), Some(g)) = (address, gateway) {
        gateway_reachable(c, path, a, g);
    }
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
            let route = StaticRoute { to: to?, via: via? };
            if route.to.is_ipv4() != route.via.is_ipv4() {
                c.err(
                    format!("{at}.via"),
                    "is of another address family than `to`",
                );
            }
            Some(route)
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

/// A gateway must be of the address's family and on its network (an IPv6
/// link-local gateway, as routers announce, is on every link).
fn gateway_reachable(c: &mut Checker, path: &str, a: IfAddr, g: IpAddr) {
    if a.0.addr().is_ipv4() != g.is_ipv4() {
        c.err(
            format!("{path}.gateway"),
            "is of another address family than `address`",
        );
    } else if !a.0.contains(&g) && !is_link_local(g) {
        c.err(
            format!("{path}.gateway"),
            format!(
                "{g} is outside {}: the gateway must be on the port's network",
                a.0.trunc()
            ),
        );
    }
}

fn is_link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_local_gateways() {
        assert!(is_link_local("fe80::1".parse().expect("ip")));
        assert!(is_link_local("169.254.0.1".parse().expect("ip")));
        assert!(!is_link_local("fd00::1".parse().expect("ip")));
    }

    #[test]
    fn gateways() {
        let check = |a: &str, g: &str| {
            let mut c = Checker::default();
            let a = a.parse().expect("address");
            gateway_reachable(&mut c, "interfaces.public", a, g.parse().expect("ip"));
            c.problems
        };
        assert!(check("192.168.10.5/24", "192.168.10.1").is_empty());
        assert!(check("2001:db8::5/64", "fe80::1").is_empty());
        assert!(check("2001:db8::5/64", "2001:db8::1").is_empty());
        assert_eq!(check("192.168.10.5/24", "192.168.11.1").len(), 1);
        assert_eq!(check("192.168.10.5/24", "2001:db8::1").len(), 1);
    }
}
