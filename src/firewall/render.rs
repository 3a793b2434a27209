//! `render`: `Config` → [`Ruleset`]. Pure.
//!
//! Chains of `table inet parvis`, in packet order:
//! - `guard` (prerouting, priority -150, accept): login bans, `admin.allow`
//!   to the admin port and SSH, then `limits.block` and bans before NAT, so
//!   a blocked source reaches neither a listener nor a forward; sends
//!   connections to a public service (a local destination address and a
//!   listener or forward port) to the meters. See [`super::guard`].
//! - `limits`, `limits_ban`, `limits_udp` (regular): the per-source
//!   meters, see [`super::limits`]; the guard itself is [`super::guard`].
//! - `prerouting` / `postrouting` (nat) and `forward`: see [`super::nat`].
//! - `input` (policy drop): connections a meter refused reset, loopback,
//!   established, ICMP, admin, listeners.
//!
//! No rule names an interface: without `[interfaces]` the daemon does not
//! know which port is which, so the internal side is treated like any other
//! source (the listeners and ICMP answer, admin/SSH only from `admin.allow`).
//! Spoofing of internal addresses from outside is stopped by `rp_filter=1`
//! (see [`super::sysctls`]).

use std::borrow::Cow;

use nftables::expr::{Expression, MetaKey};
use nftables::schema::{Chain, Set};
use nftables::stmt::{Limit, Statement};
use nftables::types::{NfChainPolicy, NfChainType, NfHook};

use super::block::Block;
use super::expr::{
    accept, allowed, anon_set, ct, drop, eq, is_in, meta, payload, saddr, word, words,
};
use super::guard;
use super::limits;
use super::meter;
use super::nat;
use super::ruleset::{Rule, Ruleset, FAMILY, TABLE};
use crate::config::Config;

/// Renders the whole table for `cfg`.
pub fn render(cfg: &Config) -> Ruleset {
    let blocks = [Block::new(cfg, true), Block::new(cfg, false)];
    let mut rs = Ruleset {
        sets: sets(cfg, &blocks),
        chains: chains(cfg),
        rules: Vec::new(),
    };
    rs.rules.extend(guard::rules(cfg, &blocks));
    rs.rules.extend(meter::rules(cfg));
    // Before each chain's `established` accept.
    rs.rules.extend(meter::refused_rules(cfg, "forward"));
    rs.rules.extend(nat::rules(cfg));
    rs.rules.extend(meter::refused_rules(cfg, "input"));
    rs.rules.extend(input_rules(cfg));
    rs.rules.extend(super::ha::rules(cfg));
    rs
}

fn base(
    name: &'static str,
    ty: NfChainType,
    hook: NfHook,
    prio: i32,
    policy: NfChainPolicy,
) -> Chain<'static> {
    Chain {
        family: FAMILY,
        table: Cow::Borrowed(TABLE),
        name: Cow::Borrowed(name),
        _type: Some(ty),
        hook: Some(hook),
        prio: Some(prio),
        policy: Some(policy),
        ..Chain::default()
    }
}

fn chains(cfg: &Config) -> Vec<Chain<'static>> {
    use NfChainPolicy::{Accept, Drop};
    use NfChainType::{Filter, NAT};
    let mut out = vec![base("guard", Filter, NfHook::Prerouting, -150, Accept)];
    out.extend(limits::chains(cfg).into_iter().map(|name| Chain {
        family: FAMILY,
        table: Cow::Borrowed(TABLE),
        name: Cow::Borrowed(name),
        ..Chain::default()
    }));
    out.extend([
        base("prerouting", NAT, NfHook::Prerouting, -100, Accept),
        base("input", Filter, NfHook::Input, 0, Drop),
        base("forward", Filter, NfHook::Forward, 0, Drop),
        base("postrouting", NAT, NfHook::Postrouting, 100, Accept),
    ]);
    out
}

fn sets(cfg: &Config, blocks: &[Block]) -> Vec<Set<'static>> {
    let mut out: Vec<Set<'static>> = blocks.iter().map(Block::set).collect();
    out.extend(guard::sets(cfg));
    out.extend(limits::sets(cfg));
    out
}

fn input_rules(cfg: &Config) -> Vec<Rule> {
    let mut out = vec![
        Rule::new(
            "input",
            "loopback",
            vec![eq(meta(MetaKey::Iif), word("lo")), accept()],
        ),
        Rule::new(
            "input",
            "established",
            vec![
                is_in(ct("state"), words(&["established", "related"])),
                accept(),
            ],
        ),
        Rule::new(
            "input",
            "invalid",
            vec![is_in(ct("state"), word("invalid")), drop()],
        ),
    ];
    out.extend(icmp_rules());
    out.extend(admin_rules(cfg));
    for l in &cfg.listeners {
        let mut m = Vec::new();
        if !l.bind.ip().is_unspecified() {
            m.push(eq(
                super::expr::daddr(l.bind.is_ipv4()),
                super::expr::addr(l.bind.ip()),
            ));
        }
        m.push(eq(
            payload("tcp", "dport"),
            Expression::Number(u32::from(l.bind.port())),
        ));
        m.push(accept());
        out.push(Rule::new("input", format!("listener {}", l.name), m));
    }
    out
}

fn icmp_rules() -> Vec<Rule> {
    let v4 = [
        "destination-unreachable",
        "time-exceeded",
        "parameter-problem",
    ];
    let v6 = [
        "destination-unreachable",
        "packet-too-big",
        "time-exceeded",
        "parameter-problem",
        "nd-router-solicit",
        "nd-router-advert",
        "nd-neighbor-solicit",
        "nd-neighbor-advert",
    ];
    // Echo is answered, but never faster than 10/s with a burst of 20.
    let echo = |_| {
        Statement::Limit(Limit {
            rate: 10,
            rate_unit: None,
            per: Some(Cow::Borrowed("second")),
            burst: Some(20),
            burst_unit: None,
            inv: None,
        })
    };
    vec![
        Rule::new(
            "input",
            "icmp: path MTU and errors",
            vec![
                eq(
                    payload("icmp", "type"),
                    anon_set(v4.iter().map(|t| word(*t)).collect()),
                ),
                accept(),
            ],
        ),
        Rule::new(
            "input",
            "icmpv6: path MTU, errors, neighbour discovery",
            vec![
                eq(
                    payload("icmpv6", "type"),
                    anon_set(v6.iter().map(|t| word(*t)).collect()),
                ),
                accept(),
            ],
        ),
        Rule::new(
            "input",
            "icmp: echo, rate-limited",
            vec![
                eq(payload("icmp", "type"), word("echo-request")),
                echo(()),
                accept(),
            ],
        ),
        Rule::new(
            "input",
            "icmpv6: echo, rate-limited",
            vec![
                eq(payload("icmpv6", "type"), word("echo-request")),
                echo(()),
                accept(),
            ],
        ),
    ]
}

/// Admin port (if not on loopback) and SSH (and metrics if not on
/// loopback), from `admin.allow` only.
fn admin_rules(cfg: &Config) -> Vec<Rule> {
    let ports = guard::admin_ports(cfg);
    let port_set = || {
        anon_set(
            ports
                .iter()
                .map(|p| Expression::Number(u32::from(*p)))
                .collect(),
        )
    };
    let mut out = Vec::new();
    for v4 in [true, false] {
        let allow: Vec<Expression<'static>> = allowed(&cfg.admin.allow, v4);
        if allow.is_empty() {
            continue;
        }
        out.push(Rule::new(
            "input",
            "admin allow",
            vec![
                eq(saddr(v4), anon_set(allow)),
                eq(payload("tcp", "dport"), port_set()),
                accept(),
            ],
        ));
    }
    out
}
