//! `diff(old, new)`: what a new config changes, item by item, grouped by
//! area. Pure.

use std::collections::BTreeSet;

use super::kind::{list, opt};
use super::Change;
use crate::config::{format_duration, Backend, Config, Forward, Ha, Listener, Port};

/// Everything `new` changes compared with `old`, grouped by area: ruleset,
/// interfaces, listeners, route tables, backends, then the rest.
pub fn diff(old: &Config, new: &Config) -> Vec<Change> {
    let mut out = Vec::new();
    admin(old, new, &mut out);
    limits(old, new, &mut out);
    forwards(&old.forwards, &new.forwards, &mut out);
    if old.egress != new.egress {
        out.push(Change::Egress {
            from: old.egress.masquerade.clone(),
            to: new.egress.masquerade.clone(),
        });
    }
    let ports = |c: &Config, public: bool| -> Option<Port> {
        let i = c.interfaces.as_ref()?;
        if public {
            i.public.clone()
        } else {
            i.internal.clone()
        }
    };
    interface("public", ports(old, true), ports(new, true), &mut out);
    interface("internal", ports(old, false), ports(new, false), &mut out);
    listeners(&old.listeners, &new.listeners, &mut out);
    routes(old, new, &mut out);
    backends(old, new, &mut out);
    rest(old, new, &mut out);
    out
}

fn admin(old: &Config, new: &Config, out: &mut Vec<Change>) {
    let (a, b) = (&old.admin, &new.admin);
    if a.allow != b.allow {
        out.push(Change::AdminAllow {
            from: a.allow.clone(),
            to: b.allow.clone(),
        });
    }
    if a.ssh_port != b.ssh_port {
        out.push(Change::SshPort {
            from: a.ssh_port,
            to: b.ssh_port,
        });
    }
    if a.listen != b.listen {
        out.push(Change::AdminListen {
            from: a.listen,
            to: b.listen,
        });
    }
    if a.tls != b.tls {
        out.push(Change::AdminTls);
    }
}

fn limits(old: &Config, new: &Config, out: &mut Vec<Change>) {
    let (a, b) = (&old.limits, &new.limits);
    let mut push = |key, from: String, to: String| {
        if from != to {
            out.push(Change::Limit { key, from, to });
        }
    };
    let rate = |r: &Option<crate::config::Rate>| r.map_or("none".into(), |r| r.to_string());
    push("conn_rate", rate(&a.conn_rate), rate(&b.conn_rate));
    push(
        "conn_burst",
        a.conn_burst.to_string(),
        b.conn_burst.to_string(),
    );
    push("conn_max", opt(&a.conn_max), opt(&b.conn_max));
    push("ban", format_duration(a.ban), format_duration(b.ban));
    push(
        "ipv6_prefix",
        a.ipv6_prefix.to_string(),
        b.ipv6_prefix.to_string(),
    );
    push(
        "meter_size",
        a.meter_size.to_string(),
        b.meter_size.to_string(),
    );
    push(
        "block",
        format!("[{}]", list(&a.block)),
        format!("[{}]", list(&b.block)),
    );
    let file =
        |f: &Option<crate::config::BlockFile>| f.as_ref().map_or("none".into(), |f| f.to_string());
    push("block_file", file(&a.block_file), file(&b.block_file));
}

fn forwards(old: &[Forward], new: &[Forward], out: &mut Vec<Change>) {
    for fw in old.iter().filter(|f| !new.contains(f)) {
        out.push(Change::ForwardRemoved(fw.clone()));
    }
    for fw in new.iter().filter(|f| !old.contains(f)) {
        out.push(Change::ForwardAdded(fw.clone()));
    }
}

fn interface(role: &'static str, old: Option<Port>, new: Option<Port>, out: &mut Vec<Change>) {
    let (a, b) = match (old, new) {
        (None, None) => return,
        (Some(a), Some(b)) => (a, b),
        (a, b) => {
            let show = |p: &Option<Port>| if p.is_some() { "port" } else { "none" }.to_string();
            out.push(Change::Interface {
                role,
                key: "port",
                from: show(&a),
                to: show(&b),
            });
            return;
        }
    };
    let mut push = |key, from: String, to: String| {
        if from != to {
            out.push(Change::Interface {
                role,
                key,
                from,
                to,
            });
        }
    };
    push(
        "select",
        format!("{:?}", a.select),
        format!("{:?}", b.select),
    );
    push("address", opt(&a.address), opt(&b.address));
    push("gateway", opt(&a.gateway), opt(&b.gateway));
    push("mtu", opt(&a.mtu), opt(&b.mtu));
    let routes = |p: &Port| {
        p.routes
            .iter()
            .map(|r| format!("{} via {}", r.to, r.via))
            .collect::<Vec<_>>()
            .join(", ")
    };
    push(
        "routes",
        format!("[{}]", routes(&a)),
        format!("[{}]", routes(&b)),
    );
}

fn listeners(old: &[Listener], new: &[Listener], out: &mut Vec<Change>) {
    for l in old.iter().filter(|l| !new.iter().any(|n| n.name == l.name)) {
        out.push(Change::ListenerRemoved {
            name: l.name.clone(),
            bind: l.bind,
        });
    }
    for n in new {
        let Some(o) = old.iter().find(|o| o.name == n.name) else {
            out.push(Change::ListenerAdded {
                name: n.name.clone(),
                bind: n.bind,
            });
            continue;
        };
        listener(o, n, out);
    }
}

/// What changed in one listener present before and after.
fn listener(o: &Listener, n: &Listener, out: &mut Vec<Change>) {
    if o.bind != n.bind {
        out.push(Change::ListenerRebound {
            name: n.name.clone(),
            from: o.bind,
            to: n.bind,
        });
    }
    let mut push = |key, from: String, to: String| {
        if from != to {
            let name = n.name.clone();
            out.push(Change::ListenerSettings {
                name,
                key,
                from,
                to,
            });
        }
    };
    push(
        "protocol",
        format!("{:?}", o.protocol),
        format!("{:?}", n.protocol),
    );
    push(
        "default_backend",
        opt(&o.default_backend),
        opt(&n.default_backend),
    );
    push("accept_proxy", list(&o.accept_proxy), list(&n.accept_proxy));
    push(
        "hello_timeout",
        format_duration(o.hello_timeout),
        format_duration(n.hello_timeout),
    );
    push(
        "idle_timeout",
        format_duration(o.idle_timeout),
        format_duration(n.idle_timeout),
    );
    push(
        "max_connections",
        o.max_connections.to_string(),
        n.max_connections.to_string(),
    );
}

/// `host → backend` entries of one listener, in file order.
fn table(c: &Config, listener: &str) -> Vec<String> {
    c.routes
        .iter()
        .filter(|r| r.listener == listener)
        .flat_map(|r| {
            r.hosts
                .iter()
                .map(move |h| format!("{} → {}", String::from(h.clone()), r.backend))
        })
        .collect()
}

fn routes(old: &Config, new: &Config, out: &mut Vec<Change>) {
    for l in new
        .listeners
        .iter()
        .filter(|l| old.listeners.iter().any(|o| o.name == l.name))
    {
        let (a, b) = (table(old, &l.name), table(new, &l.name));
        if a == b {
            continue;
        }
        let (sa, sb): (BTreeSet<&String>, BTreeSet<&String>) =
            (a.iter().collect(), b.iter().collect());
        out.push(Change::Routes {
            listener: l.name.clone(),
            added: sb.difference(&sa).map(|s| s.to_string()).collect(),
            removed: sa.difference(&sb).map(|s| s.to_string()).collect(),
        });
    }
}

fn backends(old: &Config, new: &Config, out: &mut Vec<Change>) {
    for name in old
        .backends
        .keys()
        .filter(|k| !new.backends.contains_key(*k))
    {
        out.push(Change::BackendRemoved { name: name.clone() });
    }
    for (name, b) in &new.backends {
        match old.backends.get(name) {
            None => out.push(Change::BackendAdded {
                name: name.clone(),
                servers: b.servers.clone(),
            }),
            Some(a) => backend(name, a, b, out),
        }
    }
}

fn backend(name: &str, a: &Backend, b: &Backend, out: &mut Vec<Change>) {
    for s in a.servers.iter().filter(|s| !b.servers.contains(s)) {
        out.push(Change::ServerRemoved {
            backend: name.into(),
            server: *s,
        });
    }
    for s in b.servers.iter().filter(|s| !a.servers.contains(s)) {
        out.push(Change::ServerAdded {
            backend: name.into(),
            server: *s,
        });
    }
    let mut push = |key, from: String, to: String| {
        if from != to {
            out.push(Change::BackendSettings {
                backend: name.into(),
                key,
                from,
                to,
            });
        }
    };
    push(
        "proxy_protocol",
        format!("{:?}", a.proxy_protocol),
        format!("{:?}", b.proxy_protocol),
    );
    push(
        "balance",
        format!("{:?}", a.balance),
        format!("{:?}", b.balance),
    );
    push(
        "health",
        format!("{:?}", a.health),
        format!("{:?}", b.health),
    );
}

fn rest(old: &Config, new: &Config, out: &mut Vec<Change>) {
    let (a, b) = (&old.appliance, &new.appliance);
    let mut push = |key, from: String, to: String| {
        if from != to {
            out.push(Change::Appliance { key, from, to });
        }
    };
    push("name", a.name.clone(), b.name.clone());
    push(
        "state_dir",
        a.state_dir.display().to_string(),
        b.state_dir.display().to_string(),
    );
    push(
        "max_connections",
        a.max_connections.to_string(),
        b.max_connections.to_string(),
    );
    if let Some(keys) = ha_keys(old.ha.as_ref(), new.ha.as_ref()) {
        out.push(Change::Ha { keys });
    }
    let listen = |c: &Config| c.metrics.as_ref().map(|m| m.listen);
    if listen(old) != listen(new) {
        out.push(Change::Metrics {
            from: listen(old),
            to: listen(new),
        });
    }
}

/// The `[ha]` keys that differ; `None` when nothing does.
fn ha_keys(old: Option<&Ha>, new: Option<&Ha>) -> Option<Vec<&'static str>> {
    let (a, b) = match (old, new) {
        (None, None) => return None,
        (Some(a), Some(b)) => (a, b),
        _ => return Some(vec!["[ha]"]),
    };
    let keys: Vec<&'static str> = [
        ("vrid", a.vrid != b.vrid),
        ("vip_public", a.vip_public != b.vip_public),
        ("vip_internal", a.vip_internal != b.vip_internal),
        ("advert", a.advert != b.advert),
        ("sync_port", a.sync_port != b.sync_port),
        ("key", a.key != b.key),
        ("node", a.nodes != b.nodes),
    ]
    .into_iter()
    .filter_map(|(k, changed)| changed.then_some(k))
    .collect();
    match keys.is_empty() {
        true if a != b => Some(vec!["[ha]"]),
        true => None,
        false => Some(keys),
    }
}

#[cfg(test)]
#[path = "diff_tests.rs"]
mod tests;
