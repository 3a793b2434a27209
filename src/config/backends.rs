//! `[backend.NAME]`: servers, PROXY version, balance mode and health check.
//! Pure.

use std::net::SocketAddr;

use super::bounds;
use super::checker::Checker;
use super::file::{FileBackend, FileHealth};
use super::model::{Backend, Balance, Health, ProxyTlvs, ProxyVersion};

/// Types one backend; `name` is its table key.
pub(crate) fn backend(c: &mut Checker, name: &str, b: &FileBackend) -> Option<Backend> {
    let at = format!("backend.{name}");
    c.name(&at, name);
    if b.servers.is_empty() {
        c.err(
            format!("{at}.servers"),
            "is empty: a backend needs at least one server",
        );
    }
    let mut servers: Vec<SocketAddr> = Vec::new();
    for (i, s) in b.servers.iter().enumerate() {
        let path = format!("{at}.servers[{i}]");
        let Some(addr) = c.addr(&path, s) else {
            continue;
        };
        if let Some(first) = servers.iter().position(|x| *x == addr) {
            c.err(path, format!("{addr} is already servers[{first}]"));
        } else if addr.port() == 0 || addr.ip().is_unspecified() || addr.ip().is_multicast() {
            c.err(
                path,
                format!("{addr} is not an address and port a server can listen on"),
            );
        }
        servers.push(addr);
    }
    let proxy_protocol = match b.proxy_protocol.as_deref() {
        None | Some("v2") => ProxyVersion::V2,
        Some("v1") => ProxyVersion::V1,
        Some("off") => ProxyVersion::Off,
        Some(o) => {
            c.err(
                format!("{at}.proxy_protocol"),
                format!("{o:?} is not one of \"v1\", \"v2\", \"off\""),
            );
            ProxyVersion::V2
        }
    };
    let balance = match b.balance.as_deref() {
        None | Some("round-robin") => Balance::RoundRobin,
        Some("least-conn") => Balance::LeastConn,
        Some("source-hash") => Balance::SourceHash,
        Some(o) => {
            c.err(
                format!("{at}.balance"),
                format!("{o:?} is not one of \"round-robin\", \"least-conn\", \"source-hash\""),
            );
            Balance::RoundRobin
        }
    };
    let health = b
        .health
        .as_ref()
        .map_or_else(Health::default, |h| health(c, &format!("{at}.health"), h));
    let proxy_v2_tlvs = tlvs(c, &at, b.proxy_v2_tlvs.as_deref(), proxy_protocol);
    Some(Backend {
        name: name.to_string(),
        servers,
        proxy_protocol,
        balance,
        health,
        proxy_v2_tlvs,
    })
}

/// Types `proxy_v2_tlvs`: only with `proxy_protocol = "v2"`.
fn tlvs(c: &mut Checker, at: &str, names: Option<&[String]>, v: ProxyVersion) -> ProxyTlvs {
    let mut out = ProxyTlvs::default();
    let Some(names) = names else {
        return out;
    };
    if v != ProxyVersion::V2 && !names.is_empty() {
        c.err(
            format!("{at}.proxy_v2_tlvs"),
            "needs proxy_protocol = \"v2\" (TLVs exist only in PROXY v2)",
        );
    }
    for (i, name) in names.iter().enumerate() {
        match name.as_str() {
            "alpn" => out.alpn = true,
            "unique_id" => out.unique_id = true,
            o => c.err(
                format!("{at}.proxy_v2_tlvs[{i}]"),
                format!("{o:?} is not one of \"alpn\", \"unique_id\""),
            ),
        }
    }
    out
}

/// Types `health = { ... }`, filling in the defaults.
fn health(c: &mut Checker, at: &str, h: &FileHealth) -> Health {
    let d = Health::default();
    let out = Health {
        interval: c.duration(&format!("{at}.interval"), h.interval.as_ref(), d.interval),
        timeout: c.duration(&format!("{at}.timeout"), h.timeout.as_ref(), d.timeout),
        fall: h.fall.unwrap_or(d.fall),
        rise: h.rise.unwrap_or(d.rise),
    };
    bounds::duration(
        c,
        &format!("{at}.interval"),
        out.interval,
        bounds::HEALTH_INTERVAL,
    );
    if out.timeout.is_zero() || out.timeout > out.interval {
        c.err(
            format!("{at}.timeout"),
            "must be above zero and at most `interval`",
        );
    }
    for (key, n) in [("fall", out.fall), ("rise", out.rise)] {
        bounds::number(c, &format!("{at}.{key}"), n, 1, bounds::MAX_FALL_RISE);
    }
    out
}
