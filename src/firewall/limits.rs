//! `[limits]` in nftables: the per-source meters (`rate4/6`, `conn4/6`), the
//! `guard` jumps that send NEW connections to a public service into the
//! `limits` chain, and that chain. Pure.
//!
//! Public services are the listener ports (TCP) and the forward ports (TCP
//! and UDP) on a local destination address (`fib daddr type local`), so
//! traffic routed through the appliance (egress) is not metered.

use std::borrow::Cow;
use std::collections::HashSet;

use nftables::expr::Expression;
use nftables::schema::{Set, SetFlag};
use nftables::stmt::{CTCount, Limit, SetOp, Statement};

use super::expr::{anon_set, ct, drop, eq, fib_daddr_type, is_in, payload, ports, saddr, word};
use super::ruleset::{set, DynSet, Rule, Stmt, DYNAMIC_SET_SIZE};
use crate::config::{Config, PortRange, RateUnit, Transport};

/// The dynamic meter sets `limits` needs.
pub fn sets(cfg: &Config) -> Vec<Set<'static>> {
    let mut out = Vec::new();
    if let Some(rate) = cfg.limits.conn_rate {
        // An idle source's bucket must refill before its entry expires, or a
        // timeout would hand it a fresh burst early.
        let unit = match rate.per {
            RateUnit::Second => 1,
            RateUnit::Minute => 60,
        };
        let refill = u64::from(cfg.limits.conn_burst / rate.count + 1) * unit;
        let timeout = u32::try_from(refill.max(60)).unwrap_or(u32::MAX);
        for (name, v4) in [("rate4", true), ("rate6", false)] {
            let mut s = set(name, v4, "limits.conn_rate");
            s.flags = Some(HashSet::from([SetFlag::Timeout]));
            s.timeout = Some(timeout);
            s.size = Some(DYNAMIC_SET_SIZE);
            out.push(s);
        }
    }
    if cfg.limits.conn_max.is_some() {
        for (name, v4) in [("conn4", true), ("conn6", false)] {
            let mut s = set(name, v4, "limits.conn_max");
            s.size = Some(DYNAMIC_SET_SIZE);
            out.push(s);
        }
    }
    out
}

/// Ports of the public services per transport, overlaps merged.
fn public_ports(cfg: &Config, proto: Transport) -> Vec<PortRange> {
    let mut v: Vec<PortRange> = cfg
        .forwards
        .iter()
        .filter(|f| f.proto == proto)
        .map(|f| f.ports)
        .collect();
    if proto == Transport::Tcp {
        v.extend(cfg.listeners.iter().map(|l| PortRange {
            first: l.bind.port(),
            last: l.bind.port(),
        }));
    }
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

/// `guard` rules: NEW connections to a public service go through `limits`.
pub fn guard_jumps(cfg: &Config) -> Vec<Rule> {
    if cfg.limits.conn_rate.is_none() && cfg.limits.conn_max.is_none() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (proto, name) in [(Transport::Tcp, "tcp"), (Transport::Udp, "udp")] {
        let p = public_ports(cfg, proto);
        if p.is_empty() {
            continue;
        }
        out.push(Rule::new(
            "guard",
            format!("limits: new {name} connections to listeners and forwards"),
            vec![
                is_in(ct("state"), word("new")),
                eq(fib_daddr_type(), word("local")),
                eq(
                    payload(name, "dport"),
                    anon_set(p.iter().map(ports).collect()),
                ),
                Statement::Jump(nftables::stmt::JumpTarget {
                    target: Cow::Borrowed("limits"),
                }),
            ],
        ));
    }
    out
}

/// The `limits` chain.
pub fn rules(cfg: &Config) -> Vec<Rule> {
    let mut out = Vec::new();
    let l = &cfg.limits;
    for v4 in [true, false] {
        if let Some(rate) = l.conn_rate {
            let per = match rate.per {
                RateUnit::Second => "second",
                RateUnit::Minute => "minute",
            };
            let over = Statement::Limit(Limit {
                rate: rate.count,
                rate_unit: None,
                per: Some(Cow::Borrowed(per)),
                burst: Some(l.conn_burst),
                burst_unit: None,
                inv: Some(true),
            });
            let mut expr = vec![dynset(
                SetOp::Update,
                v4,
                if v4 { "@rate4" } else { "@rate6" },
                over,
            )];
            let comment = if l.ban.is_zero() {
                format!("limits.conn_rate {rate} burst {}", l.conn_burst)
            } else {
                expr.push(Stmt::Dynset {
                    set: DynSet {
                        op: SetOp::Add,
                        elem: saddr(v4),
                        set: (if v4 { "@ban4" } else { "@ban6" }).to_string(),
                        stmt: Vec::new(),
                    },
                });
                format!(
                    "limits.conn_rate {rate} burst {} -> limits.ban {}",
                    l.conn_burst,
                    crate::config::format_duration(l.ban)
                )
            };
            expr.push(Stmt::Nft(super::expr::counter()));
            expr.push(Stmt::Nft(drop()));
            out.push(Rule {
                chain: "limits",
                comment,
                expr,
            });
        }
        if let Some(max) = l.conn_max {
            let over = Statement::CTCount(CTCount {
                val: Expression::Number(max),
                inv: Some(true),
            });
            out.push(Rule {
                chain: "limits",
                comment: format!("limits.conn_max {max}"),
                expr: vec![
                    dynset(SetOp::Add, v4, if v4 { "@conn4" } else { "@conn6" }, over),
                    Stmt::Nft(super::expr::counter()),
                    Stmt::Nft(drop()),
                ],
            });
        }
    }
    out
}

fn dynset(op: SetOp, v4: bool, set: &str, stmt: Statement<'static>) -> Stmt {
    Stmt::Dynset {
        set: DynSet {
            op,
            elem: saddr(v4),
            set: set.to_string(),
            stmt: vec![stmt],
        },
    }
}
