//! Helpers for the daemon's side of [`Control`]: the views as the config
//! describes them (counters at zero, servers not yet checked), to be filled
//! with live figures; and [`EventLog`], the ring behind `events()`. Pure.
//!
//! [`Control`]: crate::api::Control

use std::collections::VecDeque;

use serde::Serialize;

use crate::api::{BackendView, EventView, ListenerView, RouteView, ServerView};
use crate::config::Config;

/// The name serde gives a unit variant (`tls`, `least-conn`, `v2`).
fn name_of<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|j| j.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The routes in file order, then one default route (no hosts) per
/// listener that has a `default_backend`.
pub fn routes_of(cfg: &Config) -> Vec<RouteView> {
    let explicit = cfg.routes.iter().map(|r| RouteView {
        listener: r.listener.clone(),
        hosts: r.hosts.iter().map(|h| h.to_string()).collect(),
        backend: r.backend.clone(),
    });
    let defaults = cfg.listeners.iter().filter_map(|l| {
        l.default_backend.as_ref().map(|b| RouteView {
            listener: l.name.clone(),
            hosts: Vec::new(),
            backend: b.clone(),
        })
    });
    explicit.chain(defaults).collect()
}

/// The listeners with zero counts.
pub fn listeners_of(cfg: &Config) -> Vec<ListenerView> {
    cfg.listeners
        .iter()
        .map(|l| ListenerView {
            name: l.name.clone(),
            bind: l.bind.to_string(),
            protocol: name_of(&l.protocol),
            active: 0,
            total: 0,
        })
        .collect()
}

/// The backends with their servers, not yet checked (`up: false`) and
/// zero counts.
pub fn backends_of(cfg: &Config) -> Vec<BackendView> {
    cfg.backends
        .values()
        .map(|b| BackendView {
            name: b.name.clone(),
            balance: name_of(&b.balance),
            proxy_protocol: name_of(&b.proxy_protocol),
            servers: b
                .servers
                .iter()
                .map(|s| ServerView {
                    addr: *s,
                    up: false,
                    drained: false,
                    active: 0,
                    total: 0,
                    bytes_in: 0,
                    bytes_out: 0,
                })
                .collect(),
        })
        .collect()
}

/// The recent events, oldest first, at most `capacity`.
#[derive(Debug, Clone)]
pub struct EventLog {
    capacity: usize,
    events: VecDeque<EventView>,
}

impl EventLog {
    /// An empty log keeping the last `capacity` events.
    pub fn new(capacity: usize) -> Self {
        EventLog {
            capacity: capacity.max(1),
            events: VecDeque::new(),
        }
    }

    /// Adds one event at `time` (Unix seconds).
    pub fn push(&mut self, time: u64, kind: &str, message: impl Into<String>) {
        if self.events.len() == self.capacity {
            self.events.pop_front();
        }
        self.events.push_back(EventView {
            time,
            kind: kind.to_string(),
            message: message.into(),
        });
    }

    /// The events, oldest first.
    pub fn view(&self) -> Vec<EventView> {
        self.events.iter().cloned().collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn views_follow_the_example_config() {
        let text = include_str!("../../examples/parvis.toml");
        let cfg = crate::config::parse(text).unwrap();
        let routes = routes_of(&cfg);
        assert_eq!(
            routes[0].hosts,
            vec!["paroisse-a.example.org", "*.paroisses.example.org"]
        );
        assert!(routes
            .iter()
            .any(|r| r.listener == "http" && r.hosts.is_empty() && r.backend == "ingress-http"));
        let ls = listeners_of(&cfg);
        assert_eq!(
            (ls[0].protocol.as_str(), ls[1].protocol.as_str()),
            ("tls", "http")
        );
        let bs = backends_of(&cfg);
        let https = bs.iter().find(|b| b.name == "ingress-https").unwrap();
        assert_eq!(
            (https.balance.as_str(), https.proxy_protocol.as_str()),
            ("least-conn", "v2")
        );
        assert_eq!(https.servers.len(), 2);
    }

    #[test]
    fn event_log_keeps_the_last() {
        let mut log = EventLog::new(2);
        log.push(1, "apply", "a");
        log.push(2, "ban", "b");
        log.push(3, "error", "c");
        let v = log.view();
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].message.as_str(), v[1].kind.as_str()), ("b", "error"));
    }
}
