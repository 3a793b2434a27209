//! `render`: `Config` → [`Ruleset`]. Pure.
//!
//! Chains of `table inet parvis`, in packet order:
//! - `guard` (prerouting, priority -150, accept): drops `limits.block` and
//!   banned sources before NAT, so a blocked source reaches neither a
//!   listener nor a forward; sends NEW connections to a public service (a
//!   local destination address and a listener or forward port) to `limits`.
//! - `limits` (regular): per-source rate (ban on excess) and `ct count`.
//! - `prerouting` / `postrouting` (nat) and `forward`: see [`super::nat`].
//! - `input` (policy drop): loopback, established, ICMP, admin, listeners.
//!
//! No rule names an interface: without `[interfaces]` the daemon does not
//! know which port is which, so the internal side is treated like any other
//! source (the listeners and ICMP answer, admin/SSH only from `admin.allow`).
//! Spoofing of internal addresses from outside is stopped by `rp_filter=1`
//! (see [`super::sysctls`]).

use std::borrow::Cow;
use std::collections::HashSet;

use nftables::expr::{Expression, MetaKey};
use nftables::schema::SetFlag;
use nftables::schema::{Chain, Set};
use nftables::stmt::{Limit, Statement};
use nftables::types::{NfChainPolicy, NfChainType, NfHook};

use super::expr::{
    accept, allowed, anon_set, ct, drop, eq, is_in, meta, payload, saddr, word, words,
};
use super::limits;
use super::nat;
use super::ruleset::{set, Rule, Ruleset, DYNAMIC_SET_SIZE, FAMILY, TABLE};
use crate::config::{Cidr, Config};

/// Renders the whole table for `cfg`.
pub fn render(cfg: &Config) -> Ruleset {
    let mut rs = Ruleset {
        sets: sets(cfg),
        chains: chains(),
        rules: Vec::new(),
    };
    rs.rules.extend(guard_rules(cfg));
    rs.rules.extend(limits::rules(cfg));
    rs.rules.extend(nat::rules(cfg));
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

fn chains() -> Vec<Chain<'static>> {
    use NfChainPolicy::{Accept, Drop};
    use NfChainType::{Filter, NAT};
    vec![
        base("guard", Filter, NfHook::Prerouting, -150, Accept),
        Chain {
            family: FAMILY,
            table: Cow::Borrowed(TABLE),
            name: Cow::Borrowed("limits"),
            ..Chain::default()
        },
        base("prerouting", NAT, NfHook::Prerouting, -100, Accept),
        base("input", Filter, NfHook::Input, 0, Drop),
        base("forward", Filter, NfHook::Forward, 0, Drop),
        base("postrouting", NAT, NfHook::Postrouting, 100, Accept),
    ]
}

fn sets(cfg: &Config) -> Vec<Set<'static>> {
    let mut out = Vec::new();
    for v4 in [true, false] {
        let mut block = set(if v4 { "block4" } else { "block6" }, v4, "limits.block");
        block.flags = Some(HashSet::from([SetFlag::Interval]));
        let elems = block_elements(&cfg.limits.block, v4);
        block.elem = (!elems.is_empty()).then(|| Cow::Owned(elems));
        out.push(block);
        let mut ban = set(if v4 { "ban4" } else { "ban6" }, v4, "limits.ban");
        ban.flags = Some(HashSet::from([SetFlag::Timeout]));
        ban.size = Some(DYNAMIC_SET_SIZE);
        let secs = cfg.limits.ban.as_secs();
        ban.timeout = (secs > 0).then(|| u32::try_from(secs).unwrap_or(u32::MAX));
        out.push(ban);
    }
    out.extend(limits::sets(cfg));
    out
}

/// The block prefixes of one family, overlaps merged (nft refuses
/// overlapping intervals), as set elements.
fn block_elements(block: &[Cidr], v4: bool) -> Vec<Expression<'static>> {
    let nets: Vec<ipnet::IpNet> = block
        .iter()
        .filter(|c| c.is_ipv4() == v4)
        .map(|c| c.net())
        .collect();
    ipnet::IpNet::aggregate(&nets)
        .into_iter()
        .map(|n| {
            let addr = super::expr::addr(n.network());
            if n.prefix_len() == n.max_prefix_len() {
                return addr;
            }
            Expression::Named(nftables::expr::NamedExpression::Prefix(
                nftables::expr::Prefix {
                    addr: Box::new(addr),
                    len: u32::from(n.prefix_len()),
                },
            ))
        })
        .collect()
}

fn guard_rules(cfg: &Config) -> Vec<Rule> {
    let mut out = vec![Rule::new(
        "guard",
        "loopback",
        vec![eq(meta(MetaKey::Iif), word("lo")), accept()],
    )];
    for (v4, block, ban) in [(true, "@block4", "@ban4"), (false, "@block6", "@ban6")] {
        out.push(Rule::new(
            "guard",
            "limits.block",
            vec![eq(saddr(v4), word(block)), drop()],
        ));
        out.push(Rule::new(
            "guard",
            "limits.ban",
            vec![eq(saddr(v4), word(ban)), drop()],
        ));
    }
    out.extend(limits::guard_jumps(cfg));
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
    let mut ports = vec![cfg.admin.ssh_port];
    if !cfg.admin.listen.ip().is_loopback() {
        ports.push(cfg.admin.listen.port());
    }
    if let Some(m) = cfg
        .metrics
        .as_ref()
        .filter(|m| !m.listen.ip().is_loopback())
    {
        ports.push(m.listen.port());
    }
    ports.sort_unstable();
    ports.dedup();
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
