//! Checks across items: references, duplicates, port clashes, address
//! families. Pure.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use super::checker::{duplicates, Checker, Origins};
use super::file::FileConfig;
use super::host::HostPattern;
use super::model::{Config, Protocol, Transport};
use super::types::{canonical_ip, PortRange};

/// Runs every cross-item check on a typed config.
pub(crate) fn check(c: &mut Checker, file: &FileConfig, cfg: &Config, o: &Origins) {
    if file.listener.is_empty() && file.forward.is_empty() {
        c.err(
            "",
            "the config has neither a [[listener]] nor a [[forward]]: there is nothing to serve",
        );
    }
    references(c, file, cfg, o);
    hosts(c, file);
    ports(c, cfg, o);
    families(c, cfg, o);
    trust(c, cfg, o);
}

fn references(c: &mut Checker, file: &FileConfig, cfg: &Config, o: &Origins) {
    let names = || file.listener.iter().map(|l| l.name.as_deref());
    for (_, dup) in duplicates(names()) {
        if let Some(name) = file.listener[dup].name.as_deref() {
            c.err(
                format!("listener[{dup}].name"),
                format!("{name:?} is already the name of another listener"),
            );
        }
    }
    let backend_exists = |name: &str| cfg.backends.contains_key(name);
    for (k, l) in cfg.listeners.iter().enumerate() {
        if let Some(b) = l.default_backend.as_deref().filter(|b| !backend_exists(b)) {
            c.err(
                format!("listener[{}].default_backend", o.listeners[k]),
                format!("no backend is named {b:?}"),
            );
        }
    }
    for (k, r) in cfg.routes.iter().enumerate() {
        let i = o.routes[k];
        // A listener that failed to type still exists as far as routes go.
        if !names().any(|n| n == Some(r.listener.as_str())) {
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
        let http = cfg
            .listeners
            .iter()
            .any(|l| l.name == r.listener && l.protocol == Protocol::Http);
        if http && !r.alpn.is_empty() {
            c.err(
                format!("route[{i}].alpn"),
                format!(
                    "listener {:?} is an http listener: ALPN exists only in a TLS ClientHello",
                    r.listener
                ),
            );
        }
    }
}

fn hosts(c: &mut Checker, file: &FileConfig) {
    // Walks the file's routes, not the typed ones, so that indices stay those
    // the operator sees even when an earlier host name failed to parse.
    // Routes that differ in `alpn` may share a host.
    let mut seen: HashMap<(&str, HostPattern, Vec<String>), (usize, usize)> = HashMap::new();
    for (i, r) in file.route.iter().enumerate() {
        let listener = r.listener.as_deref().unwrap_or_default();
        let mut alpn = r.alpn.clone().unwrap_or_default();
        alpn.sort();
        for (j, h) in r.hosts.iter().enumerate() {
            let Ok(pattern) = h.parse::<HostPattern>() else {
                continue;
            };
            let key = (listener, pattern, alpn.clone());
            if let Some((fi, fj)) = seen.get(&key) {
                c.err(
                    format!("route[{i}].hosts[{j}]"),
                    format!("{h:?} is already routed on listener {listener:?} by route[{fi}].hosts[{fj}]"),
                );
            } else {
                seen.insert(key, (i, j));
            }
        }
    }
}

/// Something that holds a TCP or UDP port on the appliance.
struct Holder {
    path: String,
    /// How an operator names it (`listener "https"`), when it has a name.
    who: Option<String>,
    proto: Transport,
    /// `None`: every address of both families (a forward, SSH), loopback aside.
    bind: Option<IpAddr>,
    ports: PortRange,
}

fn bind_holder(path: String, addr: SocketAddr) -> Holder {
    Holder {
        path,
        who: None,
        proto: Transport::Tcp,
        bind: Some(canonical_ip(addr.ip())),
        ports: PortRange {
            first: addr.port(),
            last: addr.port(),
        },
    }
}

/// True if sockets bound to `a` and `b` (same port) would both receive some
/// connection. `[::]` is dual-stack, so it also covers every IPv4 address.
fn binds_overlap(a: Option<IpAddr>, b: Option<IpAddr>) -> bool {
    let covers = |wide: IpAddr, other: IpAddr| match wide {
        IpAddr::V6(v6) if v6.is_unspecified() => true,
        IpAddr::V4(v4) if v4.is_unspecified() => other.is_ipv4(),
        _ => false,
    };
    match (a, b) {
        (Some(x), Some(y)) => x == y || covers(x, y) || covers(y, x),
        // A forward (DNAT of arriving packets) never reaches a loopback bind.
        (Some(x), None) | (None, Some(x)) => !x.is_loopback(),
        (None, None) => true,
    }
}

fn ports(c: &mut Checker, cfg: &Config, o: &Origins) {
    let mut holders = vec![
        bind_holder("admin.listen".into(), cfg.admin.listen),
        Holder {
            path: "admin.ssh_port".into(),
            who: None,
            proto: Transport::Tcp,
            // sshd listens on every address of both families.
            bind: Some(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)),
            ports: PortRange {
                first: cfg.admin.ssh_port,
                last: cfg.admin.ssh_port,
            },
        },
    ];
    if let Some(m) = &cfg.metrics {
        holders.push(bind_holder("metrics.listen".into(), m.listen));
    }
    holders.extend(cfg.listeners.iter().enumerate().map(|(k, l)| Holder {
        who: Some(format!("listener {:?}", l.name)),
        ..bind_holder(format!("listener[{}].bind", o.listeners[k]), l.bind)
    }));
    holders.extend(cfg.forwards.iter().enumerate().map(|(k, f)| Holder {
        path: format!("forward[{}].port", o.forwards[k]),
        who: None,
        proto: f.proto,
        bind: None,
        ports: f.ports,
    }));
    // Port 0 asks the kernel for a free port (tests do): it never clashes.
    holders.retain(|h| h.ports.first != 0);
    for (b, a) in holders.iter().zip(first_clashes(&holders)) {
        let Some(a) = a.map(|j| &holders[j]) else {
            continue;
        };
        let mut message = clash_message(a, b);
        if a.path == "admin.ssh_port" && a.ports.first == 22 {
            message.push_str(" (SSH, port 22 unless `admin.ssh_port` moves it)");
        }
        let family_pair = matches!((a.bind, b.bind), (Some(x), Some(y)) if x.is_unspecified() && y.is_unspecified() && x != y);
        if family_pair && a.path != "admin.ssh_port" {
            message.push_str(" ([::] also receives IPv4: one listener on [::] serves both)");
        }
        c.err(&b.path, message);
    }
}

/// For each holder, the first earlier one it clashes with. Single ports
/// are looked up by port and only ranges are compared with every earlier
/// holder, so a config of thousands of forwards is checked in about linear
/// time (comparing every pair took seconds for 1 MB).
fn first_clashes(holders: &[Holder]) -> Vec<Option<usize>> {
    let clash = |a: &Holder, b: &Holder| {
        a.proto == b.proto && binds_overlap(a.bind, b.bind) && a.ports.overlaps(&b.ports)
    };
    let mut singles: HashMap<(Transport, u16), Vec<usize>> = HashMap::new();
    let mut ranges: Vec<usize> = Vec::new();
    let mut out = Vec::with_capacity(holders.len());
    for (i, b) in holders.iter().enumerate() {
        let earlier: Box<dyn Iterator<Item = usize>> = if b.ports.first == b.ports.last {
            let same = singles.get(&(b.proto, b.ports.first)).into_iter().flatten();
            Box::new(same.copied().chain(ranges.iter().copied()))
        } else {
            Box::new(0..i)
        };
        out.push(earlier.filter(|&j| clash(&holders[j], b)).min());
        if b.ports.first == b.ports.last {
            singles.entry((b.proto, b.ports.first)).or_default().push(i);
        } else {
            ranges.push(i);
        }
    }
    out
}

/// What `b` clashes with in `a`: a range names the first shared port and
/// the range it lies in, a named holder is named (`listener "https"`).
fn clash_message(a: &Holder, b: &Holder) -> String {
    let taker = match &a.who {
        Some(who) => format!("{who} ({})", a.path),
        None if a.ports.is_single() => a.path.clone(),
        None => format!("{} ({}/{})", a.path, a.ports, a.proto),
    };
    if a.ports.is_single() && b.ports.is_single() {
        return format!("port {} ({}) is already taken by {taker}", b.ports, a.proto);
    }
    let port = a.ports.first.max(b.ports.first);
    let what = b.path.strip_suffix(".port").unwrap_or(&b.path);
    format!(
        "port {port} of {what} ({}/{}) is already taken by {taker}",
        b.ports, b.proto
    )
}

fn families(c: &mut Checker, cfg: &Config, o: &Origins) {
    for (k, f) in cfg.forwards.iter().enumerate() {
        let i = o.forwards[k];
        let v4 = canonical_ip(f.to_addr).is_ipv4();
        for (j, _) in f
            .allow
            .iter()
            .enumerate()
            .filter(|(_, a)| a.is_ipv4() != v4)
        {
            c.err(
                format!("forward[{i}].allow[{j}]"),
                "is of another address family than `to`: no packet could match it",
            );
        }
    }
    for (k, l) in cfg.listeners.iter().enumerate() {
        let i = o.listeners[k];
        // An IPv6 socket sees IPv4 peers as IPv4-mapped addresses, so IPv4
        // entries are fine there; an IPv4 socket never sees an IPv6 peer.
        if !canonical_ip(l.bind.ip()).is_ipv4() {
            continue;
        }
        for (j, _) in l
            .accept_proxy
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.is_ipv4())
        {
            c.err(
                format!("listener[{i}].accept_proxy[{j}]"),
                "is IPv6 but `bind` is IPv4: no IPv6 peer can connect to this listener",
            );
        }
    }
}

/// The widest prefix that can still be "the proxies in front of us".
const WIDEST_TRUSTED: (u8, u8) = (8, 32);

fn trust(c: &mut Checker, cfg: &Config, o: &Origins) {
    let metered = cfg.limits.conn_rate.is_some() || cfg.limits.conn_max.is_some();
    for (k, l) in cfg.listeners.iter().enumerate() {
        let i = o.listeners[k];
        if metered && !l.accept_proxy.is_empty() {
            // nftables meters the peer that connects: behind a trusted
            // proxy that is the proxy, so all its clients would share one
            // limit and one ban (the forwarder alone knows the client).
            c.err(
                format!("listener[{i}].accept_proxy"),
                "cannot be combined with `limits.conn_rate` or `limits.conn_max`: the limits count the proxy's own address, so every client behind it would share one limit and be banned together; limit clients at the proxy and leave those two keys out, or drop `accept_proxy`",
            );
        }
        for (j, p) in l.accept_proxy.iter().enumerate() {
            let at = format!("listener[{i}].accept_proxy[{j}]");
            let widest = if p.is_ipv4() {
                WIDEST_TRUSTED.0
            } else {
                WIDEST_TRUSTED.1
            };
            if p.prefix_len() == 0 {
                c.err(at, format!("{p} trusts every address on the Internet to set the client address; list the proxies that really sit in front"));
            } else if p.prefix_len() < widest {
                c.err(at, format!("{p} is too wide to be the proxies in front of this listener (at most a /{widest}): anyone in it could forge the client address"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(canonical_ip(s.parse().expect("ip")))
    }

    #[test]
    fn which_binds_overlap() {
        let yes = [
            ("0.0.0.0", "192.168.10.5"),
            ("::", "192.168.10.5"),
            ("::", "0.0.0.0"),
            ("::", "2001:db8::5"),
            ("::ffff:192.168.10.5", "192.168.10.5"),
            ("10.0.0.1", "10.0.0.1"),
        ];
        for (a, b) in yes {
            assert!(binds_overlap(ip(a), ip(b)), "{a} {b}");
            assert!(binds_overlap(ip(b), ip(a)), "{b} {a}");
        }
        let no = [
            ("0.0.0.0", "2001:db8::5"),
            ("192.168.10.5", "10.0.0.1"),
            ("2001:db8::5", "2001:db8::6"),
            ("127.0.0.1", "192.168.10.5"),
        ];
        for (a, b) in no {
            assert!(!binds_overlap(ip(a), ip(b)), "{a} {b}");
            assert!(!binds_overlap(ip(b), ip(a)), "{b} {a}");
        }
        assert!(binds_overlap(None, ip("0.0.0.0")));
        assert!(binds_overlap(None, ip("192.168.10.5")));
        assert!(!binds_overlap(None, ip("127.0.0.1")));
        assert!(!binds_overlap(None, ip("::1")));
        assert!(binds_overlap(None, None));
    }
}
