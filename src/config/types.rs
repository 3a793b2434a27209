//! Typed values of the configuration: CIDRs, MACs, host patterns, rates,
//! durations and port ranges. Pure: parsing only, no I/O.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;

/// An address prefix, IPv4 or IPv6, with host bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub struct Cidr(ipnet::IpNet);

impl Cidr {
    /// The network address (host bits cleared).
    pub fn addr(&self) -> IpAddr {
        self.0.network()
    }
    /// The prefix length.
    pub fn prefix_len(&self) -> u8 {
        self.0.prefix_len()
    }
    /// True for an IPv4 prefix.
    pub fn is_ipv4(&self) -> bool {
        matches!(self.0, ipnet::IpNet::V4(_))
    }
    /// True if `ip` lies inside this prefix (IPv4-mapped IPv6 addresses match IPv4 prefixes).
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&canonical_ip(ip))
    }
    /// The underlying `ipnet` value.
    pub fn net(&self) -> ipnet::IpNet {
        self.0
    }
}

/// Turns an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) into plain IPv4.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

impl FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Ok(net) = s.parse::<ipnet::IpNet>() {
            return Ok(Cidr(net.trunc()));
        }
        match s.parse::<IpAddr>() {
            Ok(ip) => Ok(Cidr(ipnet::IpNet::from(ip))),
            Err(_) => Err(format!(
                "{s:?} is not an address or prefix (expected e.g. \"198.51.100.0/24\" or \"2001:db8::/32\")"
            )),
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.prefix_len() == self.0.max_prefix_len() {
            write!(f, "{}", self.0.addr())
        } else {
            write!(f, "{}", self.0)
        }
    }
}

impl From<Cidr> for String {
    fn from(c: Cidr) -> String {
        c.to_string()
    }
}

/// An interface address with its prefix (host bits kept), e.g. `192.168.10.5/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "String")]
pub struct IfAddr(pub ipnet::IpNet);

impl FromStr for IfAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.parse::<ipnet::IpNet>().map(IfAddr).map_err(|_| {
            format!(
                "{s:?} is not an address with a prefix length (expected e.g. \"192.168.10.5/24\")"
            )
        })
    }
}

impl fmt::Display for IfAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<IfAddr> for String {
    fn from(a: IfAddr) -> String {
        a.to_string()
    }
}

/// An Ethernet MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "String")]
pub struct Mac(pub [u8; 6]);

impl FromStr for Mac {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a MAC address (expected e.g. \"fa:16:3e:12:34:56\")");
        let mut out = [0u8; 6];
        let parts: Vec<&str> = s.split([':', '-']).collect();
        if parts.len() != 6 {
            return Err(bad());
        }
        for (slot, part) in out.iter_mut().zip(parts) {
            if part.len() != 2 {
                return Err(bad());
            }
            *slot = u8::from_str_radix(part, 16).map_err(|_| bad())?;
        }
        Ok(Mac(out))
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl From<Mac> for String {
    fn from(m: Mac) -> String {
        m.to_string()
    }
}

/// A host name to route on: an exact name or a `*.` wildcard, lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub enum HostPattern {
    /// `paroisse-a.example.org`
    Exact(String),
    /// `*.paroisses.example.org`, stored as the suffix `paroisses.example.org`;
    /// matches one or more labels in front of the suffix.
    Wildcard(String),
}

impl HostPattern {
    /// True if `host` (already lower-case, no trailing dot) matches.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(name) => name == host,
            HostPattern::Wildcard(suffix) => host
                .strip_suffix(suffix.as_str())
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
        }
    }
}

impl FromStr for HostPattern {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let lower = s.trim_end_matches('.').to_ascii_lowercase();
        let (wild, rest) = match lower.strip_prefix("*.") {
            Some(rest) => (true, rest.to_string()),
            None => (false, lower.clone()),
        };
        check_host_name(&rest).map_err(|why| format!("{s:?} is not a valid host name: {why}"))?;
        if wild && !rest.contains('.') {
            return Err(format!(
                "{s:?}: a wildcard needs at least two labels after \"*.\""
            ));
        }
        Ok(if wild {
            HostPattern::Wildcard(rest)
        } else {
            HostPattern::Exact(rest)
        })
    }
}

/// Checks a DNS name (no wildcard) label by label.
pub fn check_host_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("it is empty".into());
    }
    if name.len() > 253 {
        return Err("it is longer than 253 characters".into());
    }
    if name.parse::<IpAddr>().is_ok() {
        return Err("an IP address is not a host name".into());
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err("it has an empty label".into());
        }
        if label == "*" {
            return Err("\"*\" is only allowed as the whole first label".into());
        }
        if label.len() > 63 {
            return Err(format!("label {label:?} is longer than 63 characters"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label {label:?} starts or ends with '-'"));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!("character {c:?} is not allowed"));
        }
    }
    Ok(())
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Exact(n) => write!(f, "{n}"),
            HostPattern::Wildcard(s) => write!(f, "*.{s}"),
        }
    }
}

impl From<HostPattern> for String {
    fn from(h: HostPattern) -> String {
        h.to_string()
    }
}

/// The unit of a [`Rate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RateUnit {
    /// per second
    Second,
    /// per minute
    Minute,
}

/// A rate such as `50/second`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Rate {
    /// How many events…
    pub count: u32,
    /// …per this unit.
    pub per: RateUnit,
}

impl FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a rate (expected \"N/second\" or \"N/minute\")");
        let (n, unit) = s.split_once('/').ok_or_else(bad)?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 {
            return Err(format!("{s:?}: a rate must be at least 1"));
        }
        let per = match unit.trim() {
            "second" | "s" | "sec" => RateUnit::Second,
            "minute" | "m" | "min" => RateUnit::Minute,
            _ => return Err(bad()),
        };
        Ok(Rate { count, per })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.per {
            RateUnit::Second => "second",
            RateUnit::Minute => "minute",
        };
        write!(f, "{}/{unit}", self.count)
    }
}

/// Parses `"500ms"`, `"5s"`, `"10m"`, `"2h"`, `"1d"`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad =
        || format!("{s:?} is not a duration (expected e.g. \"500ms\", \"5s\", \"10m\", \"1h\")");
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| bad())?;
    let secs = |mult: u64| n.checked_mul(mult).map(Duration::from_secs).ok_or_else(bad);
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => secs(1),
        "m" => secs(60),
        "h" => secs(3600),
        "d" => secs(86400),
        _ => Err(bad()),
    }
}

/// Formats a duration the way the config writes it.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) {
        format!("{ms}ms")
    } else {
        let s = d.as_secs();
        if s != 0 && s.is_multiple_of(3600) {
            format!("{}h", s / 3600)
        } else if s != 0 && s.is_multiple_of(60) {
            format!("{}m", s / 60)
        } else {
            format!("{s}s")
        }
    }
}

/// An inclusive port range; a single port has `first == last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct PortRange {
    /// First port.
    pub first: u16,
    /// Last port (inclusive).
    pub last: u16,
}

impl PortRange {
    /// True if `port` is in the range.
    pub fn contains(&self, port: u16) -> bool {
        self.first <= port && port <= self.last
    }
    /// True if the two ranges share a port.
    pub fn overlaps(&self, other: &PortRange) -> bool {
        self.first <= other.last && other.first <= self.last
    }
    /// True for a single port.
    pub fn is_single(&self) -> bool {
        self.first == self.last
    }
}

impl FromStr for PortRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("{s:?} is not a port or port range (expected e.g. 2222 or \"30000-30100\")");
        let port = |p: &str| {
            p.trim()
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(bad)
        };
        let (first, last) = match s.split_once('-') {
            Some((a, b)) => (port(a)?, port(b)?),
            None => (port(s)?, port(s)?),
        };
        if first > last {
            return Err(format!("{s:?}: the range runs backwards"));
        }
        Ok(PortRange { first, last })
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_single() {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

/// A secret (password hash, key material) whose `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_patterns() {
        let w: HostPattern = "*.Paroisses.example.org".parse().expect("valid");
        assert!(w.matches("a.paroisses.example.org"));
        assert!(w.matches("x.y.paroisses.example.org"));
        assert!(!w.matches("paroisses.example.org"));
        assert!(!w.matches("xparoisses.example.org"));
        assert!("a.*.example.org".parse::<HostPattern>().is_err());
        assert!("*.org".parse::<HostPattern>().is_err());
        assert!("a..b".parse::<HostPattern>().is_err());
        assert!("10.0.0.1".parse::<HostPattern>().is_err());
        assert!("-a.example".parse::<HostPattern>().is_err());
    }

    #[test]
    fn values() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("ten s").is_err());
        assert_eq!(format_duration(Duration::from_secs(600)), "10m");
        let r: Rate = "50/second".parse().expect("valid");
        assert_eq!((r.count, r.per), (50, RateUnit::Second));
        assert!("50 per second".parse::<Rate>().is_err());
        let m: Mac = "FA:16:3e:12:34:56".parse().expect("valid");
        assert_eq!(m.to_string(), "fa:16:3e:12:34:56");
        assert!("fa:16:3e:12:34".parse::<Mac>().is_err());
        let c: Cidr = "203.0.113.7/28".parse().expect("valid");
        assert_eq!(c.to_string(), "203.0.113.0/28");
        assert!(c.contains("::ffff:203.0.113.1".parse().expect("ip")));
        let p: PortRange = "30000-30100".parse().expect("valid");
        assert!(p.overlaps(&"30100".parse().expect("valid")));
        assert!("100-50".parse::<PortRange>().is_err());
        assert!("0".parse::<PortRange>().is_err());
        assert_eq!(format!("{:?}", Secret("x".into())), "***");
    }
}
