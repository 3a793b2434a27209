//! Runtime operations the admin API and CLI call on the loaded table: bans
//! (list, add, remove), the block list, per-rule counters and the table as
//! text. I/O (runs `nft` in the current network namespace).

use std::net::IpAddr;
use std::time::Duration;

use serde_json::Value;

use super::error::FirewallError;
use super::nft;
use super::ruleset::{add_element_json, delete_element_json, TimedElement};
use crate::config::{canonical_ip, Cidr};

/// Longest ban nft accepts, in seconds (2^32 ms, about 49 days).
pub const MAX_BAN_S: u32 = 4_294_967;

/// One banned source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    /// The source address.
    pub addr: IpAddr,
    /// Time left; `None`: the element has no timeout.
    pub expires_in: Option<Duration>,
}

/// The packet and byte counter of one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleCounter {
    /// The chain, e.g. `input`.
    pub chain: String,
    /// The config item the rule came from.
    pub comment: String,
    /// Packets matched.
    pub packets: u64,
    /// Bytes matched.
    pub bytes: u64,
}

/// The ban set an address belongs in.
pub fn ban_set(addr: IpAddr) -> &'static str {
    if canonical_ip(addr).is_ipv4() {
        "ban4"
    } else {
        "ban6"
    }
}

/// Every banned source, IPv4 then IPv6.
pub fn bans() -> Result<Vec<Ban>, FirewallError> {
    let mut out = Vec::new();
    for set in ["ban4", "ban6"] {
        for e in elements(&nft::list_set(set)?) {
            let (val, expires) = match e.get("elem") {
                Some(inner) => (
                    inner.get("val"),
                    inner.get("expires").and_then(Value::as_u64),
                ),
                None => (Some(e), None),
            };
            if let Some(addr) = val.and_then(Value::as_str).and_then(|s| s.parse().ok()) {
                out.push(Ban {
                    addr,
                    expires_in: expires.map(Duration::from_secs),
                });
            }
        }
    }
    Ok(out)
}

/// Bans `addr` for `duration` (rounded up to whole seconds), replacing an
/// existing ban of that address.
pub fn ban_add(addr: IpAddr, duration: Duration) -> Result<(), FirewallError> {
    let addr = canonical_ip(addr);
    let secs = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    let timeout_s = match u32::try_from(secs) {
        Ok(s) if (1..=MAX_BAN_S).contains(&s) => s,
        _ => return Err(FirewallError::BanDuration { addr }),
    };
    ban_del(addr)?;
    let e = TimedElement {
        set: ban_set(addr),
        addr,
        timeout_s,
    };
    nft::load("add a ban", &add_element_json(&e), false)
}

/// Lifts the ban on `addr`; `false` if it was not banned.
pub fn ban_del(addr: IpAddr) -> Result<bool, FirewallError> {
    let addr = canonical_ip(addr);
    if !bans()?.iter().any(|b| b.addr == addr) {
        return Ok(false);
    }
    nft::load(
        "remove a ban",
        &delete_element_json(ban_set(addr), addr),
        false,
    )?;
    Ok(true)
}

/// The prefixes in the block sets, as loaded (overlaps merged).
pub fn blocked() -> Result<Vec<Cidr>, FirewallError> {
    let mut out = Vec::new();
    for set in ["block4", "block6"] {
        for e in elements(&nft::list_set(set)?) {
            out.extend(element_cidrs(e));
        }
    }
    Ok(out)
}

fn element_cidrs(e: &Value) -> Vec<Cidr> {
    if let Some(s) = e.as_str() {
        return s.parse().into_iter().collect();
    }
    if let Some(p) = e.get("prefix") {
        let text = format!(
            "{}/{}",
            p.get("addr").and_then(Value::as_str).unwrap_or_default(),
            p.get("len").and_then(Value::as_u64).unwrap_or_default()
        );
        return text.parse().into_iter().collect();
    }
    let bounds: Vec<IpAddr> = e
        .get("range")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|b| b.as_str().and_then(|s| s.parse().ok()))
        .collect();
    let subnets: Vec<ipnet::IpNet> = match bounds.as_slice() {
        [IpAddr::V4(a), IpAddr::V4(b)] => {
            ipnet::Ipv4Subnets::new(*a, *b, 0).map(Into::into).collect()
        }
        [IpAddr::V6(a), IpAddr::V6(b)] => {
            ipnet::Ipv6Subnets::new(*a, *b, 0).map(Into::into).collect()
        }
        _ => Vec::new(),
    };
    subnets
        .iter()
        .filter_map(|n| n.to_string().parse().ok())
        .collect()
}

fn elements(doc: &Value) -> impl Iterator<Item = &Value> {
    nft::objects(doc, "set")
        .filter_map(|s| s.get("elem").and_then(Value::as_array))
        .flatten()
}

/// Every rule's counter, in listing order.
pub fn counters() -> Result<Vec<RuleCounter>, FirewallError> {
    let doc = nft::list_table_terse()?;
    Ok(nft::objects(&doc, "rule")
        .filter_map(|r| {
            let c = r
                .get("expr")?
                .as_array()?
                .iter()
                .find_map(|s| s.get("counter"))?;
            Some(RuleCounter {
                chain: r.get("chain")?.as_str()?.to_string(),
                comment: r
                    .get("comment")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                packets: c.get("packets").and_then(Value::as_u64).unwrap_or(0),
                bytes: c.get("bytes").and_then(Value::as_u64).unwrap_or(0),
            })
        })
        .collect())
}

/// `nft list table inet parvis`, as text.
pub fn ruleset_text() -> Result<String, FirewallError> {
    nft::run("list the table", &["list", "table", "inet", "parvis"], None)
}
