//! Small constructors for the `nftables` crate's expressions and statements,
//! so the rule builders read like `nft` rules. Pure.

use std::borrow::Cow;
use std::collections::HashSet;
use std::net::IpAddr;

use nftables::expr::{
    Expression, Fib, FibFlag, FibResult, Meta, MetaKey, NamedExpression, Payload, PayloadField,
    Prefix, Range, SetItem, CT,
};
use nftables::stmt::{Counter, Match, Operator, Statement};

use crate::config::{Cidr, PortRange};

/// A payload field such as `ip saddr` or `tcp dport`.
pub fn payload(protocol: &'static str, field: &'static str) -> Expression<'static> {
    Expression::Named(NamedExpression::Payload(Payload::PayloadField(
        PayloadField {
            protocol: Cow::Borrowed(protocol),
            field: Cow::Borrowed(field),
        },
    )))
}

/// `ip saddr` or `ip6 saddr`, by family.
pub fn saddr(v4: bool) -> Expression<'static> {
    payload(if v4 { "ip" } else { "ip6" }, "saddr")
}

/// `ip daddr` or `ip6 daddr`, by family.
pub fn daddr(v4: bool) -> Expression<'static> {
    payload(if v4 { "ip" } else { "ip6" }, "daddr")
}

/// A `meta` key.
pub fn meta(key: MetaKey) -> Expression<'static> {
    Expression::Named(NamedExpression::Meta(Meta { key }))
}

/// A conntrack key such as `ct state`.
pub fn ct(key: &'static str) -> Expression<'static> {
    Expression::Named(NamedExpression::CT(CT {
        key: Cow::Borrowed(key),
        family: None,
        dir: None,
    }))
}

/// `ct original proto-dst`: the destination port before DNAT.
pub fn ct_original_port() -> Expression<'static> {
    Expression::Named(NamedExpression::CT(CT {
        key: Cow::Borrowed("proto-dst"),
        family: None,
        dir: Some(nftables::expr::CTDir::Original),
    }))
}

/// `fib daddr type`: what kind of address the destination is here.
pub fn fib_daddr_type() -> Expression<'static> {
    Expression::Named(NamedExpression::Fib(Fib {
        result: FibResult::Type,
        flags: HashSet::from([FibFlag::Daddr]),
    }))
}

/// A string immediate (`"local"`, `"lo"`, an address).
pub fn word(s: impl Into<Cow<'static, str>>) -> Expression<'static> {
    Expression::String(s.into())
}

/// An address.
pub fn addr(ip: IpAddr) -> Expression<'static> {
    Expression::String(Cow::Owned(ip.to_string()))
}

/// A prefix, or a plain address for a host prefix.
pub fn cidr(c: &Cidr) -> Expression<'static> {
    let full = if c.is_ipv4() { 32 } else { 128 };
    if c.prefix_len() == full {
        return addr(c.addr());
    }
    Expression::Named(NamedExpression::Prefix(Prefix {
        addr: Box::new(addr(c.addr())),
        len: u32::from(c.prefix_len()),
    }))
}

/// A port or a port range.
pub fn ports(p: &PortRange) -> Expression<'static> {
    if p.first == p.last {
        Expression::Number(u32::from(p.first))
    } else {
        Expression::Range(Box::new(Range {
            range: [
                Expression::Number(u32::from(p.first)),
                Expression::Number(u32::from(p.last)),
            ],
        }))
    }
}

/// An anonymous set `{ a, b, … }`; a single item stays a plain value.
pub fn anon_set(mut items: Vec<Expression<'static>>) -> Expression<'static> {
    if items.len() == 1 {
        if let Some(one) = items.pop() {
            return one;
        }
    }
    Expression::Named(NamedExpression::Set(
        items.into_iter().map(SetItem::Element).collect(),
    ))
}

/// A list of flag words, as `ct state { established, related }` takes them.
pub fn words(list: &[&'static str]) -> Expression<'static> {
    Expression::List(list.iter().map(|w| word(*w)).collect())
}

/// `left == right`.
pub fn eq(left: Expression<'static>, right: Expression<'static>) -> Statement<'static> {
    Statement::Match(Match {
        left,
        right,
        op: Operator::EQ,
    })
}

/// `left != right`.
pub fn neq(left: Expression<'static>, right: Expression<'static>) -> Statement<'static> {
    Statement::Match(Match {
        left,
        right,
        op: Operator::NEQ,
    })
}

/// `left in right` (flag tests such as `ct state established,related`).
pub fn is_in(left: Expression<'static>, right: Expression<'static>) -> Statement<'static> {
    Statement::Match(Match {
        left,
        right,
        op: Operator::IN,
    })
}

/// An anonymous counter.
pub fn counter() -> Statement<'static> {
    Statement::Counter(Counter::Anonymous(None))
}

/// `accept`
pub fn accept() -> Statement<'static> {
    Statement::Accept(None)
}

/// `drop`
pub fn drop() -> Statement<'static> {
    Statement::Drop(None)
}

/// The key a source is metered and banned by: `ip saddr`, or for IPv6 its
/// first `v6_prefix` bits (`ip6 saddr & ffff:ffff:ffff:ffff::` for a /64).
pub fn source_key(v4: bool, v6_prefix: u8) -> Expression<'static> {
    if v4 || v6_prefix >= 128 {
        return saddr(v4);
    }
    let mask = u128::MAX << (128 - u32::from(v6_prefix));
    let mask = std::net::Ipv6Addr::from(mask);
    Expression::BinaryOperation(Box::new(nftables::expr::BinaryOperation::AND(
        saddr(false),
        addr(IpAddr::V6(mask)),
    )))
}

/// `ct mark & bit == 0`: the connection has not been marked with `bit`.
pub fn ct_mark_clear(bit: u32) -> Statement<'static> {
    eq(
        Expression::BinaryOperation(Box::new(nftables::expr::BinaryOperation::AND(
            ct("mark"),
            Expression::Number(bit),
        ))),
        Expression::Number(0),
    )
}

/// `ct mark set ct mark | bit`.
pub fn ct_mark_set(bit: u32) -> Statement<'static> {
    Statement::Mangle(nftables::stmt::Mangle {
        key: ct("mark"),
        value: Expression::BinaryOperation(Box::new(nftables::expr::BinaryOperation::OR(vec![
            ct("mark"),
            Expression::Number(bit),
        ]))),
    })
}

/// `tcp flags & (fin|syn|rst) == 0`: neither opening nor closing.
pub fn tcp_plain_segment() -> Statement<'static> {
    eq(
        Expression::BinaryOperation(Box::new(nftables::expr::BinaryOperation::AND(
            payload("tcp", "flags"),
            words(&["fin", "syn", "rst"]),
        ))),
        Expression::Number(0),
    )
}

/// `jump CHAIN`
pub fn jump(chain: &'static str) -> Statement<'static> {
    Statement::Jump(nftables::stmt::JumpTarget {
        target: Cow::Borrowed(chain),
    })
}

/// `goto CHAIN`
pub fn goto(chain: &'static str) -> Statement<'static> {
    Statement::Goto(nftables::stmt::JumpTarget {
        target: Cow::Borrowed(chain),
    })
}

/// `ct mark & bit == bit`: the connection carries `bit`.
pub fn ct_mark_has(bit: u32) -> Statement<'static> {
    eq(
        Expression::BinaryOperation(Box::new(nftables::expr::BinaryOperation::AND(
            ct("mark"),
            Expression::Number(bit),
        ))),
        Expression::Number(bit),
    )
}

/// `reject with tcp reset`
pub fn reject_tcp() -> Statement<'static> {
    Statement::Reject(Some(nftables::stmt::Reject::new(
        Some(nftables::stmt::RejectType::TCPReset),
        None,
    )))
}

/// `return`
pub fn ret() -> Statement<'static> {
    Statement::Return(None)
}

/// The prefixes of one family from an allow-list, as expressions.
pub fn allowed(list: &[Cidr], v4: bool) -> Vec<Expression<'static>> {
    list.iter()
        .filter(|c| c.is_ipv4() == v4)
        .map(cidr)
        .collect()
}

/// True if `ip` is IPv4 (after unmapping `::ffff:a.b.c.d`).
pub fn is_v4(ip: IpAddr) -> bool {
    crate::config::canonical_ip(ip).is_ipv4()
}
