//! `[[forward]]`: in-kernel port forwards (nftables DNAT). Pure: typing
//! only.

use std::net::SocketAddr;

use super::checker::Checker;
use super::file::{FileForward, FilePorts};
use super::model::{Forward, Transport};
use super::types::PortRange;

/// Types `forward[i]`; `None` when it cannot be typed at all.
pub(crate) fn forward(c: &mut Checker, i: usize, f: &FileForward) -> Option<Forward> {
    let at = format!("forward[{i}]");
    let proto = match f.proto.as_deref() {
        None | Some("tcp") => Transport::Tcp,
        Some("udp") => Transport::Udp,
        Some(o) => {
            c.err(
                format!("{at}.proto"),
                format!("{o:?} is not \"tcp\" or \"udp\""),
            );
            return None;
        }
    };
    let ports: PortRange = match &f.port {
        None => {
            c.err(&at, "missing `port`");
            return None;
        }
        Some(FilePorts::Number(n)) => c.parse(&format!("{at}.port"), &n.to_string())?,
        Some(FilePorts::Text(t)) => c.parse(&format!("{at}.port"), t)?,
    };
    let Some(to) = &f.to else {
        c.err(&at, "missing `to` (e.g. \"10.0.0.20:22\")");
        return None;
    };
    let (to_addr, to_port) = if let Ok(sa) = to.parse::<SocketAddr>() {
        (sa.ip(), Some(sa.port()))
    } else if let Ok(ip) = to.parse() {
        (ip, None)
    } else {
        c.err(
            format!("{at}.to"),
            format!("{to:?} is not ADDRESS or ADDRESS:PORT"),
        );
        return None;
    };
    if to_addr.is_unspecified() || to_addr.is_multicast() || to_port == Some(0) {
        c.err(
            format!("{at}.to"),
            format!("{to:?} is not a host to forward to"),
        );
    }
    if !ports.is_single() && to_port.is_some_and(|p| p != ports.first) {
        c.err(
            format!("{at}.to"),
            "a port range is forwarded to the same ports: give `to` without a port",
        );
    }
    // A range keeps its ports; "to = ADDR:FIRST" says the same thing.
    let to_port = to_port.filter(|_| ports.is_single());
    Some(Forward {
        proto,
        ports,
        to_addr,
        to_port,
        masquerade: f.masquerade.unwrap_or(false),
        allow: c.cidrs(&format!("{at}.allow"), &f.allow),
    })
}
