//! `[limits]` in nftables: the per-source meters, the `guard` jumps into
//! them and their chains. Pure.
//!
//! Public services are the listener ports (TCP) and the forward ports (TCP
//! and UDP) on a local destination address (`fib daddr type local`), so
//! traffic routed through the appliance (egress) is not metered.
//!
//! # Bans only on evidence an attacker cannot forge
//! `conn_rate` (and so `ban`) meters a TCP connection at the first packet
//! the client sends after the handshake, once per connection (`ct mark`
//! bit [`METERED`]): `ct status assured`, original direction, no SYN, FIN
//! or RST. Conntrack sets `assured` only when the client's ACK answered
//! the appliance's SYN-ACK within the window, so a forged source, which
//! never sees the SYN-ACK, is never counted and never banned. `ct state
//! established` is not enough: it only means a reply was seen, and in the
//! lab 13 of 20 blind ACKs sent after forged SYNs passed as established
//! (conntrack ignores, rather than invalidates, some out-of-window ACKs);
//! none of them set `assured`. A lone forged ACK is picked up as a new
//! connection and reset. Metering SYNs instead (the first version) let
//! about 40 forged SYNs ban any address, the operator's included. SYN
//! floods themselves are left to SYN cookies (`net.ipv4.tcp_syncookies`).
//!
//! A connection over the rate is marked [`REFUSED`] and `input`/`forward`
//! answer it with a TCP reset ([`refused_rules`]): the client learns at
//! once, and conntrack closes the entry instead of keeping it for days as
//! established. (The reset is not sent from prerouting: older kernels
//! refuse `reject` there.) With `limits.ban` the source also goes into
//! `ban4/6`.
//!
//! `conn_max` of the listeners is counted by the forwarder
//! (`forwarder::per_source`), which only sees completed handshakes. The
//! kernel's `ct count` cannot do that: it does not add a connection that
//! conntrack has already confirmed (measured on 6.18: five established
//! connections, count 0), so it must run on the SYN, and it counts
//! half-open connections. When it metered the listeners, 20 SYNs forged
//! with the address of a client behind a stateful firewall (which drops
//! the SYN-ACKs instead of resetting them) took all of that client's
//! `conn_max = 5` for a minute. The forwards, which no user-space process
//! sees, keep the kernel's count when the connection is new (chain
//! `limits_conn`): there a forged SYN still holds one of its victim's
//! slots for as long as the half-open entry lives (a victim that answers
//! the SYN-ACK with a reset closes it at once); it is dropped, never
//! banned, and never touches the admin port or SSH.
//!
//! UDP has no handshake: any source can be forged, so new UDP flows are
//! metered in their own sets (`urate`, `uconn`, chain `limits_udp`) and are
//! never banned: a forged UDP flood costs its victim UDP only.
//!
//! # Full meters fail closed
//! Each meter holds `limits.meter_size` sources. When one is full the
//! kernel cannot add a new source and the `update`/`add` statement does not
//! match, which used to let the connection through unmetered; a rule after
//! each meter now refuses a source the meter does not hold. IPv6 sources
//! are keyed by their `limits.ipv6_prefix` (a /64 by default), so one host
//! cannot fill a meter, nor dodge a ban, by walking its own /64.

use nftables::schema::{Set, SetFlag};

use super::expr::{
    anon_set, ct, ct_mark_clear, ct_mark_set, eq, fib_daddr_type, is_in, jump, payload, ports,
    tcp_plain_segment, word,
};
use super::ruleset::{set, Rule};
use crate::config::{Config, PortRange, RateUnit, Transport};

/// The `ct mark` bit of a connection already metered (no other rule of
/// the appliance uses `ct mark`).
pub const METERED: u32 = 0x1;
/// The `ct mark` bit of a connection the rate meter refused.
pub const REFUSED: u32 = 0x2;

/// Which meters the config needs.
pub(super) struct Plan {
    /// TCP rate after the handshake (chain `limits`).
    pub(super) rate: bool,
    /// TCP `conn_max` of the forwards when new (chain `limits_conn`).
    pub(super) conn: bool,
    /// New UDP flows (chain `limits_udp`).
    pub(super) udp: bool,
    /// Bans (chain `limits_ban`).
    pub(super) ban: bool,
}

pub(super) fn plan(cfg: &Config) -> Plan {
    let l = &cfg.limits;
    let tcp = !public_ports(cfg, Transport::Tcp).is_empty();
    let rate = tcp && l.conn_rate.is_some();
    Plan {
        rate,
        conn: l.conn_max.is_some() && !forward_ports(cfg, Transport::Tcp).is_empty(),
        udp: (l.conn_rate.is_some() || l.conn_max.is_some())
            && !public_ports(cfg, Transport::Udp).is_empty(),
        ban: rate && !l.ban.is_zero(),
    }
}

/// The regular chains the meters need.
pub fn chains(cfg: &Config) -> Vec<&'static str> {
    let p = plan(cfg);
    [
        (p.rate, "limits"),
        (p.ban, "limits_ban"),
        (p.conn, "limits_conn"),
        (p.udp, "limits_udp"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect()
}

/// The names of one protocol's meter sets: (rate, conn) per family.
pub(super) fn names(tcp: bool, v4: bool) -> (&'static str, &'static str) {
    match (tcp, v4) {
        (true, true) => ("rate4", "conn4"),
        (true, false) => ("rate6", "conn6"),
        (false, true) => ("urate4", "uconn4"),
        (false, false) => ("urate6", "uconn6"),
    }
}

/// The dynamic meter sets, sized `limits.meter_size`.
pub fn sets(cfg: &Config) -> Vec<Set<'static>> {
    let p = plan(cfg);
    let l = &cfg.limits;
    let mut out = Vec::new();
    for (tcp, rate_on, conn_on) in [(true, p.rate, p.conn), (false, p.udp, p.udp)] {
        for v4 in [true, false] {
            let (rate_name, conn_name) = names(tcp, v4);
            if let Some(rate) = l.conn_rate.filter(|_| rate_on) {
                // An idle source's bucket must refill before its entry
                // expires, or a timeout would hand it a fresh burst early.
                let unit = match rate.per {
                    RateUnit::Second => 1,
                    RateUnit::Minute => 60,
                };
                let refill = u64::from(l.conn_burst / rate.count + 1) * unit;
                let mut s = set(rate_name, v4, "limits.conn_rate");
                s.flags = Some([SetFlag::Timeout].into());
                s.timeout = Some(u32::try_from(refill.max(60)).unwrap_or(u32::MAX));
                s.size = Some(l.meter_size);
                out.push(s);
            }
            if conn_on && l.conn_max.is_some() {
                let mut s = set(conn_name, v4, "limits.conn_max");
                s.size = Some(l.meter_size);
                out.push(s);
            }
        }
    }
    out
}

/// Ports of the public services per transport, overlaps merged.
fn public_ports(cfg: &Config, proto: Transport) -> Vec<PortRange> {
    let mut v = forward_ports(cfg, proto);
    if proto == Transport::Tcp {
        v.extend(cfg.listeners.iter().map(|l| PortRange {
            first: l.bind.port(),
            last: l.bind.port(),
        }));
    }
    merge(v)
}

/// The forward ports of `proto`, merged.
fn forward_ports(cfg: &Config, proto: Transport) -> Vec<PortRange> {
    let v = cfg
        .forwards
        .iter()
        .filter(|f| f.proto == proto)
        .map(|f| f.ports)
        .collect();
    merge(v)
}

fn merge(mut v: Vec<PortRange>) -> Vec<PortRange> {
    v.sort_by_key(|p| (p.first, p.last));
    let mut merged: Vec<PortRange> = Vec::new();
    for p in v {
        match merged.last_mut() {
            Some(last) if u32::from(p.first) <= u32::from(last.last) + 1 => {
                last.last = last.last.max(p.last);
            }
            _ => merged.push(p),
        }
    }
    merged
}

/// `guard` rules into the meters: TCP once the handshake is done
/// (`limits`), TCP when new (`limits_conn`), UDP when new (`limits_udp`).
pub fn guard_jumps(cfg: &Config) -> Vec<Rule> {
    let p = plan(cfg);
    let to = |list: Vec<PortRange>, name: &'static str| {
        eq(
            payload(name, "dport"),
            anon_set(list.iter().map(ports).collect()),
        )
    };
    let dports = |proto: Transport, name: &'static str| to(public_ports(cfg, proto), name);
    let new_to = |list, name, chain| {
        vec![
            is_in(ct("state"), word("new")),
            eq(fib_daddr_type(), word("local")),
            to(list, name),
            jump(chain),
        ]
    };
    let mut out = Vec::new();
    if p.rate {
        out.push(Rule::new(
            "guard",
            "limits: tcp connections to listeners and forwards, once the handshake is done",
            vec![
                is_in(ct("status"), word("assured")),
                eq(ct("direction"), word("original")),
                ct_mark_clear(METERED),
                tcp_plain_segment(),
                eq(fib_daddr_type(), word("local")),
                dports(Transport::Tcp, "tcp"),
                ct_mark_set(METERED),
                jump("limits"),
            ],
        ));
    }
    if p.conn {
        out.push(Rule::new(
            "guard",
            "limits: new tcp connections to forwards (conn_max; the forwarder counts its listeners)",
            new_to(forward_ports(cfg, Transport::Tcp), "tcp", "limits_conn"),
        ));
    }
    if p.udp {
        out.push(Rule::new(
            "guard",
            "limits: new udp flows to forwards (metered, never banned)",
            new_to(public_ports(cfg, Transport::Udp), "udp", "limits_udp"),
        ));
    }
    out
}
