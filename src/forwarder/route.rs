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

/// One route's claim on a host: with `alpn`, only for ClientHellos that
/// offer one of those protocols.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    backend: String,
    /// The route as metrics name it (see [`route_label`]).
    label: std::sync::Arc<str>,
    /// Index in the config's `[[route]]` list.
    route: usize,
    alpn: Vec<Vec<u8>>,
}

/// What a lookup found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match<'a> {
    /// The backend name.
    pub backend: &'a str,
    /// How the host matched.
    pub kind: MatchKind,
    /// The route's index in the config (`None` for the default backend).
    pub route: Option<usize>,
    /// The offered protocol the route matched on, if it has `alpn`.
    pub alpn: Option<&'a [u8]>,
    /// The route as metrics name it: its hosts (and `alpn`), or `default`;
    /// shared, so that a connection keeps it without a copy.
    pub label: &'a std::sync::Arc<str>,
}

/// The label of the default backend's "route".
fn default_label() -> &'static std::sync::Arc<str> {
    static LABEL: std::sync::OnceLock<std::sync::Arc<str>> = std::sync::OnceLock::new();
    LABEL.get_or_init(|| "default".into())
}

/// A route's name in the metrics: its hosts joined by `,`, then ` alpn=`
/// and its protocols when it has some. Stable across reorderings of the
/// `[[route]]` list, unlike its index.
pub fn route_label(route: &crate::config::Route) -> String {
    let hosts: Vec<String> = route.hosts.iter().map(ToString::to_string).collect();
    let mut label = hosts.join(",");
    if !route.alpn.is_empty() {
        label.push_str(" alpn=");
        label.push_str(&route.alpn.join(","));
    }
    label
}

/// The routes of one listener.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct ListenerRoutes {
    /// Host → its routes, those with `alpn` first.
    exact: HashMap<String, Vec<Entry>>,
    /// Wildcard suffix → its routes. Looked up label by label from the
    /// longest suffix, so the most specific wildcard wins.
    wildcard: HashMap<String, Vec<Entry>>,
    default: Option<String>,
}

/// Every listener's routes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RouteTable {
    listeners: HashMap<String, ListenerRoutes>,
}

/// The first entry the offered protocols satisfy; an entry without `alpn`
/// takes any hello. Entries with `alpn` are sorted first, so they win.
fn choose<'a>(entries: &'a [Entry], offered: &[Vec<u8>]) -> Option<(&'a Entry, Option<&'a [u8]>)> {
    entries.iter().find_map(|e| {
        if e.alpn.is_empty() {
            return Some((e, None));
        }
        let hit = e.alpn.iter().find(|p| offered.contains(p))?;
        Some((e, Some(hit.as_slice())))
    })
}

impl RouteTable {
    /// Builds the table from a validated config; the first route naming a
    /// host (with the same `alpn`) wins if a name appears twice.
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
        for (index, route) in config.routes.iter().enumerate() {
            let Some(table) = listeners.get_mut(&route.listener) else {
                continue;
            };
            let entry = Entry {
                backend: route.backend.clone(),
                label: route_label(route).into(),
                route: index,
                alpn: route.alpn.iter().map(|p| p.as_bytes().to_vec()).collect(),
            };
            for host in &route.hosts {
                let (map, key) = match host {
                    HostPattern::Exact(name) => (&mut table.exact, name),
                    HostPattern::Wildcard(suffix) => (&mut table.wildcard, suffix),
                };
                let entries = map.entry(key.clone()).or_default();
                entries.push(entry.clone());
                // Stable: among equals, config order stays.
                entries.sort_by_key(|e| e.alpn.is_empty());
            }
        }
        RouteTable { listeners }
    }

    /// The backend for `host` (lower-case, no port) on `listener`: exact
    /// name, then the most specific wildcard, then the default.
    pub fn lookup(&self, listener: &str, host: Option<&str>) -> Option<(&str, MatchKind)> {
        self.lookup_hello(listener, host, &[])
            .map(|m| (m.backend, m.kind))
    }

    /// As [`lookup`](Self::lookup), with the ALPN protocols the ClientHello
    /// offered: for one host, a route whose `alpn` the offer satisfies
    /// wins over one without `alpn`; a route with `alpn` the offer does not
    /// satisfy is passed over.
    pub fn lookup_hello(
        &self,
        listener: &str,
        host: Option<&str>,
        offered: &[Vec<u8>],
    ) -> Option<Match<'_>> {
        let table = self.listeners.get(listener)?;
        fn found<'t>(
            entries: &'t [Entry],
            offered: &[Vec<u8>],
            kind: MatchKind,
        ) -> Option<Match<'t>> {
            choose(entries, offered).map(|(e, alpn)| Match {
                backend: e.backend.as_str(),
                kind,
                route: Some(e.route),
                alpn,
                label: &e.label,
            })
        }
        if let Some(host) = host {
            if let Some(m) = table
                .exact
                .get(host)
                .and_then(|e| found(e, offered, MatchKind::Exact))
            {
                return Some(m);
            }
            // A wildcard needs at least one label in front of its suffix.
            let mut rest = host;
            while let Some((label, suffix)) = rest.split_once('.') {
                if !label.is_empty() {
                    let entries = table.wildcard.get(suffix);
                    if let Some(m) = entries.and_then(|e| found(e, offered, MatchKind::Wildcard)) {
                        return Some(m);
                    }
                }
                rest = suffix;
            }
        }
        table.default.as_deref().map(|b| Match {
            backend: b,
            kind: MatchKind::Default,
            route: None,
            alpn: None,
            label: default_label(),
        })
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

    const ALPN: &str = r#"
[[listener]]
name = "https"
bind = "0.0.0.0:443"
protocol = "tls"

[[route]]
listener = "https"
hosts = ["a.example.org", "*.example.org"]
backend = "web"

[[route]]
listener = "https"
hosts = ["a.example.org"]
backend = "acme"
alpn = ["acme-tls/1"]

[[route]]
listener = "https"
hosts = ["h2only.example.org"]
backend = "web"
alpn = ["h2"]

[backend.web]
servers = ["10.0.0.11:443"]
[backend.acme]
servers = ["10.0.0.12:443"]
"#;

    #[test]
    fn a_route_with_alpn_wins_for_its_host_only_when_offered() {
        let t = RouteTable::build(&crate::config::parse(ALPN).expect("valid test config"));
        let offer =
            |p: &[&str]| -> Vec<Vec<u8>> { p.iter().map(|s| s.as_bytes().to_vec()).collect() };
        let m = t
            .lookup_hello("https", Some("a.example.org"), &offer(&["acme-tls/1"]))
            .expect("routed");
        assert_eq!(
            (m.backend, m.route, m.alpn),
            ("acme", Some(1), Some(&b"acme-tls/1"[..]))
        );
        let m = t
            .lookup_hello("https", Some("a.example.org"), &offer(&["h2", "http/1.1"]))
            .expect("routed");
        assert_eq!((m.backend, m.route, m.alpn), ("web", Some(0), None));
        assert_eq!(
            t.lookup_hello("https", Some("a.example.org"), &[])
                .map(|m| m.backend),
            Some("web")
        );
        // Offered nothing it wants: an alpn-only host falls through to the wildcard.
        let m = t.lookup_hello("https", Some("h2only.example.org"), &offer(&["http/1.1"]));
        assert_eq!(
            m.map(|m| (m.backend, m.kind)),
            Some(("web", MatchKind::Wildcard))
        );
        let m = t.lookup_hello(
            "https",
            Some("h2only.example.org"),
            &offer(&["http/1.1", "h2"]),
        );
        assert_eq!(
            m.map(|m| (m.route, m.kind)),
            Some((Some(2), MatchKind::Exact))
        );
    }
}
