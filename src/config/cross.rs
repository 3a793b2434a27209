//! Checks across items: references, duplicates, port clashes, address
//! families. Pure.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use super::file::FileConfig;
use super::model::{Config, Transport};
use super::types::{Cidr, HostPattern, PortRange};
use super::validate::{duplicates, Checker};

/// Runs every cross-item check on a typed config.
pub(crate) fn check(c: &mut Checker, file: &FileConfig, cfg: &Config) {
    if file.listener.is_empty() && file.forward.is_empty() {
        c.err(
            "",
            "the config has neither a [[listener]] nor a [[forward]]: there is nothing to serve",
        );
    }
    references(c, cfg);
    hosts(c, file);
    ports(c, cfg);
    families(c, cfg);
    trust(c, cfg);
}

fn references(c: &mut Checker, cfg: &Config) {
    for (_, dup) in duplicates(cfg.listeners.iter().map(|l| l.name.as_str())) {
        c.err(
            format!("listener[{dup}].name"),
            format!(
                "{:?} is already the name of another listener",
                cfg.listeners[dup].name
            ),
        );
    }
    let backend_exists = |name: &str| cfg.backends.contains_key(name);
    for (i, l) in cfg.listeners.iter().enumerate() {
        if let Some(b) = l.default_backend.as_deref().filter(|b| !backend_exists(b)) {
            c.err(
                format!("listener[{i}].default_backend"),
                format!("no backend is named {b:?}"),
            );
        }
    }
    for (i, r) in cfg.routes.iter().enumerate() {
        if !cfg.listeners.iter().any(|l| l.name == r.listener) {
            c.err(
                format!("route[{i}].listener"),
                format!("no listener is named {:?}", r.listener),
            );
        }
        if !backend_exists(&r.backend) {
            c.err(
                format!("route[{i}].backend"),
                format!("no backend is named {:?}", r.backend),
            );
        }
    }
}

fn hosts(c: &mut Checker, file: &FileConfig) {
    // Walks the file's routes, not the typed ones, so that indices stay those
    // the operator sees even when an earlier host name failed to parse.
    let mut seen: HashMap<(&str, HostPattern), (usize, usize)> = HashMap::new();
    for (i, r) in file.route.iter().enumerate() {
        let listener = r.listener.as_deref().unwrap_or_default();
        for (j, h) in r.hosts.iter().enumerate() {
            let Ok(pattern) = h.parse::<HostPattern>() else {
                continue;
            };
            if let Some((fi, fj)) = seen.get(&(listener, pattern.clone())) {
                c.err(
                    format!("route[{i}].hosts[{j}]"),
                    format!("\"{pattern}\" is already routed on listener {listener:?} by route[{fi}].hosts[{fj}]"),
                );
            } else {
                seen.insert((listener, pattern), (i, j));
            }
        }
    }
}

/// Something that holds a TCP or UDP port on the appliance.
struct Holder {
    path: String,
    proto: Transport,
    ip: Option<IpAddr>,
    ports: PortRange,
}

fn bind_holder(path: String, addr: SocketAddr) -> Holder {
    let ip = Some(addr.ip()).filter(|ip| !ip.is_unspecified());
    Holder {
        path,
        proto: Transport::Tcp,
        ip,
        ports: PortRange {
            first: addr.port(),
            last: addr.port(),
        },
    }
}

fn ports(c: &mut Checker, cfg: &Config) {
    let mut holders = vec![bind_holder("admin.listen".into(), cfg.admin.listen)];
    if let Some(m) = &cfg.metrics {
        holders.push(bind_holder("metrics.listen".into(), m.listen));
    }
    holders.extend(
        cfg.listeners
            .iter()
            .enumerate()
            .map(|(i, l)| bind_holder(format!("listener[{i}].bind"), l.bind)),
    );
    holders.extend(cfg.forwards.iter().enumerate().map(|(i, f)| Holder {
        path: format!("forward[{i}].port"),
        proto: f.proto,
        ip: None,
        ports: f.ports,
    }));
    for (i, b) in holders.iter().enumerate() {
        for a in &holders[..i] {
            let same_ip = match (a.ip, b.ip) {
                (Some(x), Some(y)) => x == y,
                _ => true,
            };
            if a.proto == b.proto && same_ip && a.ports.overlaps(&b.ports) {
                c.err(
                    &b.path,
                    format!(
                        "port {} ({}) is already taken by {}",
                        b.ports, a.proto, a.path
                    ),
                );
            }
        }
    }
}

fn families(c: &mut Checker, cfg: &Config) {
    let mismatch = |cidrs: &[Cidr], v4: bool| cidrs.iter().position(|x| x.is_ipv4() != v4);
    for (i, f) in cfg.forwards.iter().enumerate() {
        if let Some(j) = mismatch(&f.allow, f.to_addr.is_ipv4()) {
            c.err(
                format!("forward[{i}].allow[{j}]"),
                "is of another address family than `to`: no packet could match it",
            );
        }
    }
    let Some(ifs) = &cfg.interfaces else { return };
    for (role, port) in [("public", &ifs.public), ("internal", &ifs.internal)] {
        let Some(port) = port else { continue };
        if let (Some(a), Some(g)) = (port.address, port.gateway) {
            if a.0.addr().is_ipv4() != g.is_ipv4() {
                c.err(
                    format!("interfaces.{role}.gateway"),
                    "is of another address family than `address`",
                );
            }
        }
        for (k, r) in port.routes.iter().enumerate() {
            if r.to.is_ipv4() != r.via.is_ipv4() {
                c.err(
                    format!("interfaces.{role}.routes[{k}].via"),
                    "is of another address family than `to`",
                );
            }
        }
    }
}

fn trust(c: &mut Checker, cfg: &Config) {
    for (i, l) in cfg.listeners.iter().enumerate() {
        for (j, p) in l.accept_proxy.iter().enumerate() {
            if p.prefix_len() == 0 {
                c.err(
                    format!("listener[{i}].accept_proxy[{j}]"),
                    format!("{p} trusts every address on the Internet to set the client address; list the proxies that really sit in front"),
                );
            }
        }
    }
}
