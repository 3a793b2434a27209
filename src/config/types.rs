//! Typed values of the configuration: CIDRs, MACs, rates, durations and
//! port ranges (host patterns are in `host.rs`). Pure: parsing only, no I/O.

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
            return Ok(Cidr(unmap(net.trunc())));
        }
        match s.parse::<IpAddr>() {
            Ok(ip) => Ok(Cidr(ipnet::IpNet::from(canonical_ip(ip)))),
            Err(_) => Err(format!(
                "{s:?} is not an address or prefix (expected e.g. \"198.51.100.0/24\" or \"2001:db8::/32\")"
            )),
        }
    }
}

/// `::ffff:10.0.0.0/104` is the IPv4 prefix `10.0.0.0/8` as an IPv6 socket sees it.
fn unmap(net: ipnet::IpNet) -> ipnet::IpNet {
    match net {
        ipnet::IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
                .map_or(net, |n| ipnet::IpNet::V4(n.trunc())),
            None => net,
        },
        other => other,
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

/// What a secret reads as in a redacted text (the UI, the read API,
/// `parvis export --redact`): plainly not a key. A config that gives it as
/// a secret's value is refused, naming the key, so that a redacted export
/// is never applied with a masked key.
pub const REDACTED: &str = "********************************";

/// The problem of a secret whose value is [`REDACTED`], if it is.
pub(crate) fn redacted_problem(value: &str) -> Option<String> {
    (value.trim() == REDACTED).then(|| {
        "is masked (`********`): this text came from a redacted view or \
         `parvis export --redact`; take the export with its secrets \
         (`sudo parvis export`) or put the real value back"
            .to_string()
    })
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn cidrs() {
        let c = |s: &str| s.parse::<Cidr>();
        assert_eq!(c("10.1.2.3").map(|x| x.to_string()), Ok("10.1.2.3".into()));
        assert_eq!(
            c("10.1.2.3/8").map(|x| x.to_string()),
            Ok("10.0.0.0/8".into())
        );
        assert_eq!(
            c("2001:db8::1/32").map(|x| x.to_string()),
            Ok("2001:db8::/32".into())
        );
        // IPv4-mapped forms are the IPv4 prefix an IPv6 socket sees.
        assert_eq!(c("::ffff:10.0.0.0/104"), c("10.0.0.0/8"));
        assert_eq!(c("::ffff:192.0.2.66"), c("192.0.2.66"));
        assert!(c("::ffff:10.0.0.0/104").expect("valid").is_ipv4());
        assert_eq!(c("::ffff:0.0.0.0/96").map(|x| x.prefix_len()), Ok(0));
        assert!(c("10.0.0.0/33").is_err());
        assert!(c("10.0.0").is_err());
        assert!(c("").is_err());
        let v6 = c("2001:db8::/32").expect("valid");
        assert!(!v6.is_ipv4());
        assert!(v6.contains("2001:db8:1::5".parse().expect("ip")));
        assert!(!v6.contains("10.0.0.1".parse().expect("ip")));
    }

    #[test]
    fn macs_and_addresses() {
        let m: Mac = "fa-16-3e-12-34-56".parse().expect("dashes");
        assert_eq!(m.0, [0xfa, 0x16, 0x3e, 0x12, 0x34, 0x56]);
        for bad in [
            "fa:16:3e:12:34:5g",
            "fa:16:3e:12:34:56:78",
            "fa:16:3e:1:234:56",
            "",
        ] {
            assert!(bad.parse::<Mac>().is_err(), "{bad}");
        }
        let a: IfAddr = "192.168.10.5/24".parse().expect("valid");
        assert_eq!(a.to_string(), "192.168.10.5/24");
        assert!("192.168.10.5".parse::<IfAddr>().is_err());
    }

    #[test]
    fn rates_and_durations() {
        for (text, count, per) in [
            ("1/second", 1, RateUnit::Second),
            ("10/s", 10, RateUnit::Second),
            ("600/minute", 600, RateUnit::Minute),
            (" 3 / min ", 3, RateUnit::Minute),
        ] {
            assert_eq!(text.parse(), Ok(Rate { count, per }), "{text}");
        }
        for bad in [
            "0/second",
            "5/hour",
            "/second",
            "5",
            "-1/second",
            "1.5/second",
        ] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
        assert_eq!(
            Rate {
                count: 7,
                per: RateUnit::Minute
            }
            .to_string(),
            "7/minute"
        );
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86400)));
        for bad in ["", "s", "1.5s", "5 s", "5S", "-5s", "99999999999999999999s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(parse_duration(&format!("{}d", u64::MAX / 2)).is_err());
        for d in [
            Duration::from_millis(1500),
            Duration::ZERO,
            Duration::from_secs(7200),
        ] {
            assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }
    }

    #[test]
    fn port_ranges() {
        let r: PortRange = "30000-30100".parse().expect("valid");
        assert_eq!((r.first, r.last, r.is_single()), (30000, 30100, false));
        assert!(r.contains(30050) && !r.contains(30101));
        assert_eq!(r.to_string(), "30000-30100");
        let one: PortRange = "2222".parse().expect("valid");
        assert!(one.is_single() && !one.overlaps(&r));
        for bad in ["65536", "-1", "1-", "a-b", "10-5", "0-10", ""] {
            assert!(bad.parse::<PortRange>().is_err(), "{bad}");
        }
    }
}
