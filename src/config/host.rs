//! Host patterns to route on: exact DNS names and `*.` wildcards, checked
//! label by label. Pure.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::Serialize;

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
        let lower = s.strip_suffix('.').unwrap_or(s).to_ascii_lowercase();
        if lower == "*" {
            return Err(format!(
                "{s:?} would match every name: use the listener's `default_backend` instead"
            ));
        }
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
            let hint = if c.is_ascii() {
                ""
            } else {
                " (write international names in their \"xn--\" form)"
            };
            return Err(format!("character {c:?} is not allowed{hint}"));
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
    fn host_pattern_normalising() {
        let p: HostPattern = "Paroisse-A.Example.org.".parse().expect("valid");
        assert_eq!(p, HostPattern::Exact("paroisse-a.example.org".into()));
        assert_eq!(p.to_string(), "paroisse-a.example.org");
        // One trailing dot is the DNS root; two are an empty label.
        assert!("a.example.org..".parse::<HostPattern>().is_err());
        let w: HostPattern = "*.a.example.org".parse().expect("valid");
        assert_eq!(w.to_string(), "*.a.example.org");
        assert!(!w.matches("a.example.org"));
        assert!(w.matches("x.a.example.org"));
    }

    #[test]
    fn host_pattern_messages() {
        let err = |s: &str| s.parse::<HostPattern>().expect_err(s);
        assert!(err("*").contains("default_backend"));
        assert!(err("a.*.example.org").contains("only allowed as the whole first label"));
        assert!(err("*foo.example.org").contains("'*' is not allowed"));
        assert!(err("**.example.org").contains("'*' is not allowed"));
        assert!(err("paroisse-é.example.org").contains("xn--"));
        assert!(err("").contains("empty"));
        assert!(err(&format!("{}.org", "a".repeat(64))).contains("longer than 63"));
        assert!(err(&format!("{}.org", "a.".repeat(130))).contains("longer than 253"));
        assert!(err("2001:db8::1").contains("an IP address is not a host name"));
    }

    #[test]
    fn host_names() {
        assert_eq!(check_host_name("localhost"), Ok(()));
        assert_eq!(check_host_name("_acme-challenge.example.org"), Ok(()));
        assert_eq!(check_host_name("xn--bcher-kva.example"), Ok(()));
        assert!(check_host_name("a_b-.example").is_err());
        assert!(check_host_name("192.0.2.1").is_err());
    }
}
