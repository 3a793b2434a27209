//! `validate`: `FileConfig` → `Config`, collecting every problem with its
//! key path instead of stopping at the first. Pure.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::backends::backend;
use super::blockfile::{self, BlockFile};
use super::bounds;
use super::checker::{Checker, Origins};
use super::cross;
use super::error::ConfigError;
use super::file::*;
use super::forwards::forward;
use super::host::HostPattern;
use super::interfaces::interfaces;
use super::model::*;
use super::types::Rate;

/// Types and checks a parsed file. Every problem is reported, each with its key path.
pub fn validate(file: &FileConfig) -> Result<Config, ConfigError> {
    let mut c = Checker::default();
    let appliance = appliance(&mut c, &file.appliance);
    let max = appliance.max_connections;
    let (listener_at, listeners) = typed(&mut c, &file.listener, |c, i, l| listener(c, i, l, max));
    let (route_at, routes) = typed(&mut c, &file.route, route);
    let (forward_at, forwards) = typed(&mut c, &file.forward, forward);
    let config = Config {
        appliance,
        interfaces: file.interfaces.as_ref().map(|i| interfaces(&mut c, i)),
        admin: admin(&mut c, file.admin.as_ref()),
        limits: limits(&mut c, file.limits.as_ref()),
        listeners,
        routes,
        backends: file
            .backend
            .iter()
            .filter_map(|(name, b)| backend(&mut c, name, b).map(|b| (name.clone(), b)))
            .collect(),
        forwards,
        egress: Egress {
            masquerade: file
                .egress
                .as_ref()
                .map(|e| c.cidrs("egress.masquerade", &e.masquerade))
                .unwrap_or_default(),
        },
        metrics: file.metrics.as_ref().and_then(|m| metrics(&mut c, m)),
        ha: file.ha.as_ref().and_then(|h| super::ha::ha(&mut c, h)),
        log: super::log::log(&mut c, file.log.as_ref()),
    };
    // Cross-item checks only make sense on items that typed cleanly, but
    // they still run so that one pass reports as much as it can.
    let origins = Origins {
        listeners: listener_at,
        routes: route_at,
        forwards: forward_at,
    };
    cross::check(&mut c, file, &config, &origins);
    super::ha::cross(&mut c, &config);
    if c.problems.is_empty() {
        Ok(config)
    } else {
        Err(ConfigError {
            problems: c.problems,
        })
    }
}

/// Types each item of a `[[...]]` array, keeping the file index of those
/// that typed.
fn typed<F, T>(
    c: &mut Checker,
    items: &[F],
    mut one: impl FnMut(&mut Checker, usize, &F) -> Option<T>,
) -> (Vec<usize>, Vec<T>) {
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| one(c, i, item).map(|t| (i, t)))
        .unzip()
}

/// `[metrics]` alone turns metrics on at the contract's default address.
fn metrics(c: &mut Checker, m: &FileMetrics) -> Option<Metrics> {
    match m.listen.as_deref() {
        None => Some(Metrics {
            listen: SocketAddr::from(([127, 0, 0, 1], 9108)),
        }),
        Some(l) => c.addr("metrics.listen", l).map(|listen| Metrics { listen }),
    }
}

fn appliance(c: &mut Checker, a: &FileAppliance) -> Appliance {
    let name = a.name.clone().unwrap_or_else(|| "parvis".into());
    if name.is_empty() || name.len() > 63 || name.chars().any(|ch| ch.is_control()) {
        c.err("appliance.name", "must be 1-63 printable characters");
    }
    let state_dir = PathBuf::from(a.state_dir.as_deref().unwrap_or("/var/lib/parvis"));
    if !state_dir.is_absolute() {
        c.err(
            "appliance.state_dir",
            format!(
                "{:?} must be an absolute path",
                state_dir.display().to_string()
            ),
        );
    }
    let max_connections = a.max_connections.unwrap_or(20_000);
    bounds::number(
        c,
        "appliance.max_connections",
        max_connections,
        1,
        bounds::MAX_CONNECTIONS,
    );
    Appliance {
        name,
        state_dir,
        max_connections,
    }
}

fn admin(c: &mut Checker, a: Option<&FileAdmin>) -> Admin {
    let default = FileAdmin::default();
    let a = a.unwrap_or(&default);
    let listen = a
        .listen
        .as_deref()
        .map_or(SocketAddr::from(([0, 0, 0, 0], 8443)), |l| {
            c.addr("admin.listen", l)
                .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 8443)))
        });
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(cert), Some(key)) => Some((PathBuf::from(cert), PathBuf::from(key))),
        (None, None) => None,
        _ => {
            c.err(
                "admin",
                "`tls_cert` and `tls_key` go together: give both or neither",
            );
            None
        }
    };
    if a.ssh_port == Some(0) {
        c.err("admin.ssh_port", "must be a port from 1 to 65535");
    }
    Admin {
        listen,
        allow: c.cidrs("admin.allow", &a.allow),
        tls,
        ssh_port: a.ssh_port.unwrap_or(22),
    }
}

fn limits(c: &mut Checker, l: Option<&FileLimits>) -> Limits {
    let default = FileLimits::default();
    let l = l.unwrap_or(&default);
    let conn_rate: Option<Rate> = l
        .conn_rate
        .as_ref()
        .and_then(|r| c.parse("limits.conn_rate", r));
    let conn_burst = l
        .conn_burst
        .unwrap_or_else(|| conn_rate.map_or(0, |r| r.count.saturating_mul(2)));
    let most = bounds::MAX_CONNECTIONS;
    if let Some(r) = conn_rate {
        bounds::number(c, "limits.conn_rate", r.count, 1, most);
    }
    if let Some(b) = l.conn_burst {
        bounds::number(c, "limits.conn_burst", b, 0, most);
    }
    if l.conn_burst.is_some() && conn_rate.is_none() {
        c.err("limits.conn_burst", "has no effect without `conn_rate`");
    }
    if l.conn_max == Some(0) {
        c.err(
            "limits.conn_max",
            "must be at least 1 (leave it out for no limit)",
        );
    } else if let Some(m) = l.conn_max {
        bounds::number(c, "limits.conn_max", m, 1, most);
    }
    let ban = c.duration("limits.ban", l.ban.as_ref(), Duration::ZERO);
    if !ban.is_zero() {
        bounds::duration(c, "limits.ban", ban, bounds::BAN);
    }
    if !ban.is_zero() && conn_rate.is_none() {
        c.err(
            "limits.ban",
            "bans sources over `conn_rate`, which is not set",
        );
    }
    Limits {
        conn_rate,
        conn_burst,
        conn_max: l.conn_max,
        ban,
        ipv6_prefix: ipv6_prefix(c, l.ipv6_prefix),
        meter_size: meter_size(c, l.meter_size),
        block: c.cidrs("limits.block", &l.block),
        block_file: block_file(c, l.block_file.as_deref()),
    }
}

/// `limits.block_file`, read now (see [`super::blockfile`]).
fn block_file(c: &mut Checker, path: Option<&str>) -> Option<BlockFile> {
    match blockfile::read(path?) {
        Ok(f) => Some(f),
        Err(problems) => {
            for p in problems {
                c.err("limits.block_file", p);
            }
            None
        }
    }
}

/// `limits.ipv6_prefix`: 16 to 128, default 64.
fn ipv6_prefix(c: &mut Checker, v: Option<u8>) -> u8 {
    match v {
        None => DEFAULT_IPV6_PREFIX,
        Some(p) if (16..=128).contains(&p) => p,
        Some(p) => {
            c.err(
                "limits.ipv6_prefix",
                format!("{p} is not a prefix length from 16 to 128 (64: one site's network)"),
            );
            DEFAULT_IPV6_PREFIX
        }
    }
}

/// `limits.meter_size`: 16 to 1,048,576 sources, default 65,536.
fn meter_size(c: &mut Checker, v: Option<u32>) -> u32 {
    match v {
        None => DEFAULT_METER_SIZE,
        Some(n) if (16..=MAX_METER_SIZE).contains(&n) => n,
        Some(n) => {
            c.err(
                "limits.meter_size",
                format!("{n} is not a number of sources from 16 to {MAX_METER_SIZE}"),
            );
            DEFAULT_METER_SIZE
        }
    }
}

fn listener(c: &mut Checker, i: usize, l: &FileListener, global_max: u32) -> Option<Listener> {
    let at = format!("listener[{i}]");
    let name = l.name.clone().or_else(|| {
        c.err(&at, "missing `name`");
        None
    })?;
    c.name(&format!("{at}.name"), &name);
    let bind = match &l.bind {
        Some(b) => c.addr(&format!("{at}.bind"), b)?,
        None => {
            c.err(&at, "missing `bind` (e.g. \"0.0.0.0:443\")");
            return None;
        }
    };
    let protocol = match l.protocol.as_deref() {
        Some("tls") => Protocol::Tls,
        Some("http") => Protocol::Http,
        Some(other) => {
            c.err(
                format!("{at}.protocol"),
                format!("{other:?} is not a protocol (expected \"tls\" or \"http\")"),
            );
            return None;
        }
        None => {
            c.err(&at, "missing `protocol` (\"tls\" or \"http\")");
            return None;
        }
    };
    let max_connections = l.max_connections.unwrap_or(global_max);
    if max_connections == 0 {
        c.err(format!("{at}.max_connections"), "must be at least 1");
    } else if l.max_connections.is_some() {
        let path = format!("{at}.max_connections");
        bounds::number(c, &path, max_connections, 1, bounds::MAX_CONNECTIONS);
    }
    let mut timeout = |key: &str, value: Option<&String>, default: u64, span| {
        let path = format!("{at}.{key}");
        let d = c.duration(&path, value, Duration::from_secs(default));
        if d.is_zero() {
            c.err(path, "must be above zero");
        } else {
            bounds::duration(c, &path, d, span);
        }
        d
    };
    let hello = l.hello_timeout.as_ref();
    let hello_timeout = timeout("hello_timeout", hello, 5, bounds::HELLO_TIMEOUT);
    let idle = l.idle_timeout.as_ref();
    let idle_timeout = timeout("idle_timeout", idle, 600, bounds::IDLE_TIMEOUT);
    Some(Listener {
        name,
        bind,
        protocol,
        default_backend: l.default_backend.clone(),
        accept_proxy: c.cidrs(&format!("{at}.accept_proxy"), &l.accept_proxy),
        hello_timeout,
        idle_timeout,
        max_connections,
    })
}

fn route(c: &mut Checker, i: usize, r: &FileRoute) -> Option<Route> {
    let at = format!("route[{i}]");
    if r.hosts.is_empty() {
        c.err(
            format!("{at}.hosts"),
            "has no host names: a route needs at least one",
        );
    }
    let hosts: Vec<HostPattern> = r
        .hosts
        .iter()
        .enumerate()
        .filter_map(|(j, h)| c.parse(&format!("{at}.hosts[{j}]"), h))
        .collect();
    let listener = r.listener.clone().or_else(|| {
        c.err(&at, "missing `listener`");
        None
    });
    let backend = r.backend.clone().or_else(|| {
        c.err(&at, "missing `backend`");
        None
    });
    let alpn = r.alpn.as_deref().map_or_else(Vec::new, |a| alpn(c, &at, a));
    Some(Route {
        listener: listener?,
        hosts,
        backend: backend?,
        alpn,
    })
}

/// Checks `route[i].alpn`: present means at least one name, each 1-255
/// bytes of printable ASCII (RFC 7301 allows any bytes; TOML strings and
/// the registry's names are text).
fn alpn(c: &mut Checker, at: &str, names: &[String]) -> Vec<String> {
    if names.is_empty() {
        c.err(
            format!("{at}.alpn"),
            "is empty: leave `alpn` out to match any ClientHello, or name a protocol such as \"acme-tls/1\"",
        );
    }
    for (j, name) in names.iter().enumerate() {
        let path = format!("{at}.alpn[{j}]");
        if name.is_empty() || name.len() > 255 {
            c.err(
                path,
                format!("is {} bytes long: a protocol name has 1 to 255", name.len()),
            );
        } else if !name.bytes().all(|b| b.is_ascii_graphic()) {
            c.err(
                path,
                format!("{name:?} is not printable ASCII without spaces"),
            );
        } else if names[..j].contains(name) {
            c.err(path, format!("{name:?} is listed twice"));
        }
    }
    names.to_vec()
}
