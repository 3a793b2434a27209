//! `[[forward]]` and `[egress]`: DNAT in `prerouting`, masquerade in
//! `postrouting`, and the `forward` chain (policy drop) that lets exactly the
//! DNATed flows and the egress prefixes through. Pure.

use nftables::expr::{Expression, MetaKey};
use nftables::stmt::{NATFamily, Statement, NAT};

use super::expr::{
    accept, addr, allowed, anon_set, ct, ct_original_port, daddr, drop, eq, fib_daddr_type, is_in,
    is_v4, meta, neq, payload, ports, saddr, word, words,
};
use super::ruleset::Rule;
use crate::config::{Config, Forward};

/// The comment that names a forward: `forward[0] tcp 2222 -> 10.0.0.20:22`.
pub fn label(i: usize, f: &Forward) -> String {
    let to = match (f.to_port, f.to_addr) {
        (Some(p), std::net::IpAddr::V6(a)) => format!("[{a}]:{p}"),
        (Some(p), a) => format!("{a}:{p}"),
        (None, a) => a.to_string(),
    };
    let masq = if f.masquerade { " masquerade" } else { "" };
    format!("forward[{i}] {} {} -> {to}{masq}", f.proto, f.ports)
}

/// All NAT and forward-chain rules.
pub fn rules(cfg: &Config) -> Vec<Rule> {
    let mut out = vec![
        Rule::new(
            "forward",
            "established",
            vec![
                is_in(ct("state"), words(&["established", "related"])),
                accept(),
            ],
        ),
        Rule::new(
            "forward",
            "invalid",
            vec![is_in(ct("state"), word("invalid")), drop()],
        ),
    ];
    for (i, f) in cfg.forwards.iter().enumerate() {
        let name = label(i, f);
        out.extend(dnat(f, &name));
        out.push(Rule::new(
            "forward",
            name.clone(),
            target_match(f, accept()),
        ));
        if f.masquerade {
            out.push(Rule::new(
                "postrouting",
                name,
                target_match(f, super::ha::internal_source(cfg, is_v4(f.to_addr))),
            ));
        }
    }
    for c in &cfg.egress.masquerade {
        let name = format!("egress.masquerade {c}");
        let v4 = c.is_ipv4();
        let net = super::expr::cidr(c);
        out.push(Rule::new(
            "forward",
            name.clone(),
            vec![eq(saddr(v4), net.clone()), accept()],
        ));
        out.push(Rule::new(
            "postrouting",
            name,
            vec![
                eq(saddr(v4), net.clone()),
                neq(daddr(v4), net),
                super::ha::public_source(cfg, v4),
            ],
        ));
    }
    out
}

/// `prerouting` DNAT, one rule per source family in the allow-list (one
/// rule if there is none).
fn dnat(f: &Forward, name: &str) -> Vec<Rule> {
    let v4 = is_v4(f.to_addr);
    let sources = if f.allow.is_empty() {
        vec![None]
    } else {
        // A source of the other family cannot be translated to this target.
        let a = allowed(&f.allow, v4);
        if a.is_empty() {
            return Vec::new();
        }
        vec![Some(anon_set(a))]
    };
    sources
        .into_iter()
        .map(|src| {
            let mut m = vec![eq(
                meta(MetaKey::Nfproto),
                word(if v4 { "ipv4" } else { "ipv6" }),
            )];
            if let Some(src) = src {
                m.push(eq(saddr(v4), src));
            }
            m.push(eq(fib_daddr_type(), word("local")));
            m.push(eq(payload(proto(f), "dport"), ports(&f.ports)));
            m.push(Statement::DNAT(Some(NAT {
                addr: Some(addr(f.to_addr)),
                family: Some(if v4 { NATFamily::IP } else { NATFamily::IP6 }),
                port: f.to_port.map(|p| Expression::Number(u32::from(p))),
                flags: None,
            })));
            Rule::new("prerouting", name.to_string(), m)
        })
        .collect()
}

fn proto(f: &Forward) -> &'static str {
    match f.proto {
        crate::config::Transport::Tcp => "tcp",
        crate::config::Transport::Udp => "udp",
    }
}

/// Matches a flow DNATed by `f`: to its target address and port, from its
/// public port(s), then `verdict`.
fn target_match(f: &Forward, verdict: Statement<'static>) -> Vec<Statement<'static>> {
    let v4 = is_v4(f.to_addr);
    let target_ports = match f.to_port {
        Some(p) => Expression::Number(u32::from(p)),
        None => ports(&f.ports),
    };
    vec![
        eq(daddr(v4), addr(f.to_addr)),
        eq(payload(proto(f), "dport"), target_ports),
        is_in(ct("status"), word("dnat")),
        eq(ct_original_port(), ports(&f.ports)),
        verdict,
    ]
}
