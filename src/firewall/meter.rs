//! The rules of the meter chains `limits`, `limits_ban`, `limits_conn`
//! and `limits_udp`, and the reset of refused connections in `input` and
//! `forward`. Why they look the way they do is in [`super::limits`]. Pure.

use std::borrow::Cow;

use nftables::expr::{Expression, MetaKey};
use nftables::stmt::{CTCount, Limit, SetOp, Statement};

use super::expr::{
    ct_mark_has, ct_mark_set, drop, eq, goto, meta, neq, reject_tcp, ret, source_key, word,
};
use super::limits::{names, plan, REFUSED};
use super::ruleset::{DynSet, Rule, Stmt};
use crate::config::{Config, RateUnit};

/// The meter chains' rules.
pub fn rules(cfg: &Config) -> Vec<Rule> {
    let p = plan(cfg);
    let mut out = Vec::new();
    for v4 in [true, false] {
        if p.rate {
            out.extend(rate(cfg, "limits", true, v4, p.ban));
        }
    }
    if p.ban {
        out.extend(ban_chain(cfg));
    }
    for v4 in [true, false] {
        if p.conn {
            out.extend(conn(cfg, "limits_conn", true, v4));
        }
    }
    for v4 in [true, false] {
        if p.udp {
            out.extend(rate(cfg, "limits_udp", false, v4, false));
            out.extend(conn(cfg, "limits_udp", false, v4));
        }
    }
    out
}

/// The rate meter of one protocol and family and its fail-closed rule.
/// Over the rate, a TCP connection is refused (and with `ban` its source
/// banned), a new UDP flow dropped.
fn rate(cfg: &Config, chain: &'static str, tcp: bool, v4: bool, ban: bool) -> Vec<Rule> {
    let l = &cfg.limits;
    let Some(rate) = l.conn_rate else {
        return Vec::new();
    };
    let key = || source_key(v4, l.ipv6_prefix);
    let (set, _) = names(tcp, v4);
    let per = match rate.per {
        RateUnit::Second => "second",
        RateUnit::Minute => "minute",
    };
    let limit = Statement::Limit(Limit {
        rate: rate.count,
        rate_unit: None,
        per: Some(Cow::Borrowed(per)),
        burst: Some(l.conn_burst),
        burst_unit: None,
        inv: Some(true),
    });
    let mut comment = format!("limits.conn_rate {rate} burst {}", l.conn_burst);
    let refused = if tcp {
        refuse()
    } else {
        vec![Stmt::Nft(drop())]
    };
    let over = if ban {
        comment.push_str(" -> limits.ban");
        vec![Stmt::Nft(goto("limits_ban"))]
    } else {
        refused.clone()
    };
    let meter = [
        vec![
            dynset(SetOp::Update, key(), set, limit),
            Stmt::Nft(super::expr::counter()),
        ],
        over,
    ]
    .concat();
    vec![
        Rule {
            chain,
            comment,
            expr: meter,
        },
        full(chain, "limits.conn_rate", set, key(), refused),
    ]
}

/// The `conn_max` meter of one protocol and family (at the connection's
/// first packet: over the limit it is dropped) and its fail-closed rule.
fn conn(cfg: &Config, chain: &'static str, tcp: bool, v4: bool) -> Vec<Rule> {
    let l = &cfg.limits;
    let Some(max) = l.conn_max else {
        return Vec::new();
    };
    let key = || source_key(v4, l.ipv6_prefix);
    let (_, set) = names(tcp, v4);
    let over = Statement::CTCount(CTCount {
        val: Expression::Number(max),
        inv: Some(true),
    });
    vec![
        Rule {
            chain,
            comment: format!("limits.conn_max {max}"),
            expr: vec![
                dynset(SetOp::Add, key(), set, over),
                Stmt::Nft(super::expr::counter()),
                Stmt::Nft(drop()),
            ],
        },
        full(
            chain,
            "limits.conn_max",
            set,
            key(),
            vec![Stmt::Nft(drop())],
        ),
    ]
}

/// Marks the connection [`REFUSED`] (reset in `input`/`forward`) and
/// leaves the meters.
fn refuse() -> Vec<Stmt> {
    vec![Stmt::Nft(ct_mark_set(REFUSED)), Stmt::Nft(ret())]
}

/// Refuses a source the meter `set` does not hold: it was full.
fn full(
    chain: &'static str,
    item: &str,
    set: &str,
    key: Expression<'static>,
    verdict: Vec<Stmt>,
) -> Rule {
    let mut expr = vec![
        Stmt::Nft(neq(key, word(format!("@{set}")))),
        Stmt::Nft(super::expr::counter()),
    ];
    expr.extend(verdict);
    Rule {
        chain,
        comment: format!("{item}: meter {set} full, new source refused"),
        expr,
    }
}

/// `input` and `forward` rules, before their `established` accept: a
/// connection the rate meter refused is reset.
pub fn refused_rules(cfg: &Config, chain: &'static str) -> Vec<Rule> {
    if !plan(cfg).rate {
        return Vec::new();
    }
    vec![Rule::new(
        chain,
        "limits: connection refused by a meter",
        vec![
            eq(meta(MetaKey::L4proto), word("tcp")),
            ct_mark_has(REFUSED),
            reject_tcp(),
        ],
    )]
}

/// `limits_ban`: bans the source (if the ban set is full, the connection
/// is still refused), then refuses the connection.
fn ban_chain(cfg: &Config) -> Vec<Rule> {
    let l = &cfg.limits;
    let mut out = Vec::new();
    for v4 in [true, false] {
        out.push(Rule {
            chain: "limits_ban",
            comment: format!("limits.ban {}", crate::config::format_duration(l.ban)),
            expr: vec![
                Stmt::Dynset {
                    set: DynSet {
                        op: SetOp::Add,
                        elem: source_key(v4, l.ipv6_prefix),
                        set: (if v4 { "@ban4" } else { "@ban6" }).to_string(),
                        stmt: Vec::new(),
                    },
                },
                Stmt::Nft(super::expr::counter()),
            ],
        });
    }
    out.push(Rule {
        chain: "limits_ban",
        comment: "limits.conn_rate: over the rate".into(),
        expr: [vec![Stmt::Nft(super::expr::counter())], refuse()].concat(),
    });
    out
}

fn dynset(op: SetOp, key: Expression<'static>, set: &str, stmt: Statement<'static>) -> Stmt {
    Stmt::Dynset {
        set: DynSet {
            op,
            elem: key,
            set: format!("@{set}"),
            stmt: vec![stmt],
        },
    }
}
