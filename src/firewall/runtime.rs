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

/// What a ban closes to its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BanScope {
    /// Everything (`ban4/6`): a meter's ban or one set by hand. Sources in
    /// `admin.allow` keep their open connections and the admin port.
    All,
    /// New connections to the admin port and SSH only (`login4/6`): the
    /// admin login guard's ban, which must not close the public sites.
    Admin,
}

impl BanScope {
    /// The set holding this scope's bans for `addr`'s family.
    pub fn set(self, addr: IpAddr) -> &'static str {
        match (self, canonical_ip(addr).is_ipv4()) {
            (BanScope::All, true) => "ban4",
            (BanScope::All, false) => "ban6",
            (BanScope::Admin, true) => "login4",
            (BanScope::Admin, false) => "login6",
        }
    }
}

/// One banned source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    /// The source address; for IPv6 the first address of the banned
    /// prefix (`limits.ipv6_prefix`).
    pub addr: IpAddr,
    /// Time left; `None`: the element has no timeout.
    pub expires_in: Option<Duration>,
    /// What the ban closes.
    pub scope: BanScope,
}

/// How full one dynamic set is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetFill {
    /// The set, e.g. `rate4`.
    pub set: String,
    /// Elements in it now.
    pub elements: u64,
    /// Elements it can hold.
    pub size: u64,
}

/// The dynamic sets whose fullness is reported.
const DYNAMIC_SETS: [&str; 12] = [
    "ban4", "ban6", "login4", "login6", "rate4", "rate6", "conn4", "conn6", "urate4", "urate6",
    "uconn4", "uconn6",
];

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

/// The key a ban of `addr` is stored under: the address itself, or for
/// IPv6 the first address of its `v6_prefix` (what the rules look up).
pub fn ban_key(addr: IpAddr, v6_prefix: u8) -> IpAddr {
    match canonical_ip(addr) {
        IpAddr::V6(a) if v6_prefix < 128 => {
            let mask = u128::MAX << (128 - u32::from(v6_prefix.max(1)));
            IpAddr::V6((u128::from(a) & mask).into())
        }
        other => other,
    }
}

/// Every banned source, both scopes, IPv4 then IPv6.
pub fn bans() -> Result<Vec<Ban>, FirewallError> {
    let mut out = Vec::new();
    let sets = [
        ("ban4", BanScope::All),
        ("ban6", BanScope::All),
        ("login4", BanScope::Admin),
        ("login6", BanScope::Admin),
    ];
    for (set, scope) in sets {
        let doc = match nft::list_set(set) {
            Ok(doc) => doc,
            // A table from before the login sets existed.
            Err(FirewallError::NoTable) if scope == BanScope::Admin => continue,
            Err(e) => return Err(e),
        };
        for e in elements(&doc) {
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
                    scope,
                });
            }
        }
    }
    Ok(out)
}

/// Bans `addr` (for IPv6 its `v6_prefix`) for `duration` (rounded up to
/// whole seconds) in `scope`, replacing an existing ban of that scope.
pub fn ban_add(
    addr: IpAddr,
    duration: Duration,
    scope: BanScope,
    v6_prefix: u8,
) -> Result<(), FirewallError> {
    let addr = ban_key(addr, v6_prefix);
    let secs = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    let timeout_s = match u32::try_from(secs) {
        Ok(s) if (1..=MAX_BAN_S).contains(&s) => s,
        _ => return Err(FirewallError::BanDuration { addr }),
    };
    if bans()?.iter().any(|b| b.addr == addr && b.scope == scope) {
        nft::load(
            "replace a ban",
            &delete_element_json(scope.set(addr), addr),
            false,
        )?;
    }
    let e = TimedElement {
        set: scope.set(addr),
        addr,
        timeout_s,
    };
    nft::load("add a ban", &add_element_json(&e), false)
}

/// Lifts every ban (both scopes) on `addr` (for IPv6 its `v6_prefix`);
/// `false` if it was not banned.
pub fn ban_del(addr: IpAddr, v6_prefix: u8) -> Result<bool, FirewallError> {
    let addr = ban_key(addr, v6_prefix);
    let mut lifted = false;
    for b in bans()?.into_iter().filter(|b| b.addr == addr) {
        nft::load(
            "remove a ban",
            &delete_element_json(b.scope.set(addr), addr),
            false,
        )?;
        lifted = true;
    }
    Ok(lifted)
}

/// How full each dynamic set of the loaded table is (sets the config
/// does not use are left out).
pub fn set_fill() -> Result<Vec<SetFill>, FirewallError> {
    let mut out = Vec::new();
    for name in DYNAMIC_SETS {
        let doc = match nft::list_set(name) {
            Ok(doc) => doc,
            Err(FirewallError::NoTable) => continue,
            Err(e) => return Err(e),
        };
        let size = nft::objects(&doc, "set")
            .find_map(|s| s.get("size").and_then(Value::as_u64))
            .unwrap_or(0);
        out.push(SetFill {
            set: name.to_string(),
            elements: elements(&doc).count() as u64,
            size,
        });
    }
    Ok(out)
}

/// The prefixes in the block sets (`block4_…`, `block6_…`), as loaded
/// (overlaps merged).
pub fn blocked() -> Result<Vec<Cidr>, FirewallError> {
    let mut names: Vec<String> = nft::list_objects()?
        .iter()
        .filter_map(|o| o.get("set")?.get("name")?.as_str().map(str::to_string))
        .filter(|n| super::block::is_block_set(n))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for set in &names {
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
