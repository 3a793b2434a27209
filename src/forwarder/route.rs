//! The route table: host name → backend name, per listener. Built once per
//! config and swapped whole on reload. Pure, no I/O.

use std::collections::HashMap;

use crate::config::{Config, HostPattern};

/// How a lookup matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchKind {
    /// An exact host name.
    Exact,
    /// A `*.` wildcard.
    Wildcard,
    /// The listener's default backend.
    Default,
}

/// The routes of one listener.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct ListenerRoutes {
    exact: HashMap<String, String>,
    /// Wildcard suffix → backend. Looked up label by label from the longest
    /// suffix, so the most specific wildcard wins.
    wildcard: HashMap<String, String>,
    default: Option<String>,
}

/// Every listener's routes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RouteTable {
    listeners: HashMap<String, ListenerRoutes>,
}

impl RouteTable {
    /// Builds the table from a validated config; the first route naming a
    /// host wins if a name appears twice.
    pub fn build(config: &Config) -> Self {
        let mut listeners: HashMap<String, ListenerRoutes> = config
            .listeners
            .iter()
            .map(|l| {
                let routes = ListenerRoutes {
                    default: l.default_backend.clone(),
                    ..ListenerRoutes::default()
                };
                (l.name.clone(), routes)
            })
            .collect();
        for route in &config.routes {
            let Some(table) = listeners.get_mut(&route.listener) else {
                continue;
            };
            for host in &route.hosts {
                let (map, key) = match host {
                    HostPattern::Exact(name) => (&mut table.exact, name),
                    HostPattern::Wildcard(suffix) => (&mut table.wildcard, suffix),
                };
                map.entry(key.clone())
                    .or_insert_with(|| route.backend.clone());
            }
        }
        RouteTable { listeners }
    }

    /// The backend for `host` (lower-case, no port) on `listener`: exact
    /// name, then the most specific wildcard, then the default.
    pub fn lookup(&self, listener: &str, host: Option<&str>) -> Option<(&str, MatchKind)> {
        let table = self.listeners.get(listener)?;
        if let Some(host) = host {
            if let Some(backend) = table.exact.get(host) {
                return Some((backend, MatchKind::Exact));
            }
            // A wildcard needs at least one label in front of its suffix.
            let mut rest = host;
            while let Some((label, suffix)) = rest.split_once('.') {
                if !label.is_empty() {
                    if let Some(backend) = table.wildcard.get(suffix) {
                        return Some((backend, MatchKind::Wildcard));
                    }
                }
                rest = suffix;
            }
        }
        table.default.as_deref().map(|b| (b, MatchKind::Default))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
[[listener]]
name = "https"
bind = "0.0.0.0:443"
protocol = "tls"
default_backend = "fallback"

[[listener]]
name = "plain"
bind = "0.0.0.0:80"
protocol = "http"

[[route]]
listener = "https"
hosts = ["*.example.org", "exact.sub.example.org"]
backend = "wide"

[[route]]
listener = "https"
hosts = ["*.sub.example.org", "Exact.Example.org"]
backend = "narrow"

[[route]]
listener = "plain"
hosts = ["a.example.org"]
backend = "wide"

[backend.wide]
servers = ["10.0.0.11:443"]
[backend.narrow]
servers = ["10.0.0.12:443"]
[backend.fallback]
servers = ["10.0.0.13:443"]
"#;

    fn table() -> RouteTable {
        RouteTable::build(&crate::config::parse(CONFIG).expect("valid test config"))
    }

    #[test]
    fn exact_before_wildcard_and_most_specific_wildcard_wins() {
        let t = table();
        let look = |h| t.lookup("https", Some(h));
        assert_eq!(
            look("exact.sub.example.org"),
            Some(("wide", MatchKind::Exact))
        );
        assert_eq!(
            look("exact.example.org"),
            Some(("narrow", MatchKind::Exact))
        );
        assert_eq!(
            look("x.sub.example.org"),
            Some(("narrow", MatchKind::Wildcard))
        );
        assert_eq!(
            look("a.b.sub.example.org"),
            Some(("narrow", MatchKind::Wildcard))
        );
        assert_eq!(look("x.example.org"), Some(("wide", MatchKind::Wildcard)));
        assert_eq!(look("sub.example.org"), Some(("wide", MatchKind::Wildcard)));
    }

    #[test]
    fn wildcard_does_not_match_its_bare_suffix_then_default_or_none() {
        let t = table();
        assert_eq!(
            t.lookup("https", Some("example.org")),
            Some(("fallback", MatchKind::Default))
        );
        assert_eq!(
            t.lookup("https", Some(".example.org")),
            Some(("fallback", MatchKind::Default))
        );
        assert_eq!(
            t.lookup("https", None),
            Some(("fallback", MatchKind::Default))
        );
        assert_eq!(t.lookup("plain", Some("b.example.org")), None);
        assert_eq!(
            t.lookup("plain", Some("a.example.org")),
            Some(("wide", MatchKind::Exact))
        );
        assert_eq!(t.lookup("nope", Some("a.example.org")), None);
    }
}
