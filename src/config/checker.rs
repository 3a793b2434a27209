//! [`Checker`], the problem collector that [`validate`](super::validate)
//! and its helpers (`backends`, `cross`, `forwards`, `interfaces`) share,
//! with [`Origins`] and [`duplicates`]: in a file of their own so that the
//! helpers do not import the file that calls them. Pure.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use super::error::Problem;
use super::types::{parse_duration, Cidr};

/// Collects problems while typing values.
#[derive(Default)]
pub(crate) struct Checker {
    pub(crate) problems: Vec<Problem>,
}

impl Checker {
    pub(crate) fn err(&mut self, path: impl Into<String>, msg: impl Into<String>) {
        self.problems.push(Problem::new(path, msg));
    }

    /// Parses `value` with `FromStr`, recording a problem at `path` on failure.
    pub(crate) fn parse<T: FromStr<Err = String>>(&mut self, path: &str, value: &str) -> Option<T> {
        value.parse().map_err(|e| self.err(path, e)).ok()
    }

    pub(crate) fn addr(&mut self, path: &str, value: &str) -> Option<SocketAddr> {
        value
            .parse()
            .map_err(|_| self.err(path, format!("{value:?} is not ADDRESS:PORT (e.g. \"10.0.0.11:443\" or \"[2001:db8::1]:443\")")))
            .ok()
    }

    pub(crate) fn duration(
        &mut self,
        path: &str,
        value: Option<&String>,
        default: Duration,
    ) -> Duration {
        match value {
            None => default,
            Some(v) => parse_duration(v)
                .map_err(|e| self.err(path, e))
                .unwrap_or(default),
        }
    }

    pub(crate) fn cidrs(&mut self, path: &str, values: &[String]) -> Vec<Cidr> {
        values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| self.parse(&format!("{path}[{i}]"), v))
            .collect()
    }

    pub(crate) fn name(&mut self, path: &str, value: &str) {
        let ok = !value.is_empty()
            && value.len() <= 32
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            self.err(
                path,
                format!("{value:?} is not a valid name (1-32 letters, digits, '-' or '_')"),
            );
        }
    }
}

/// Where each typed item came from: `listeners[k]` is the file index of
/// `Config::listeners[k]`. Items that failed to type are left out of
/// `Config`, so the typed index alone would name the wrong `[[listener]]`.
pub(crate) struct Origins {
    /// File index of each typed listener.
    pub(crate) listeners: Vec<usize>,
    /// File index of each typed route.
    pub(crate) routes: Vec<usize>,
    /// File index of each typed forward.
    pub(crate) forwards: Vec<usize>,
}

/// Detects duplicate keys in a list: returns (first index, duplicate index) pairs.
pub(crate) fn duplicates<K: Eq + std::hash::Hash>(
    keys: impl Iterator<Item = K>,
) -> Vec<(usize, usize)> {
    let mut seen = HashMap::new();
    let mut out = Vec::new();
    for (i, k) in keys.enumerate() {
        if let Some(first) = seen.get(&k) {
            out.push((*first, i));
        } else {
            seen.insert(k, i);
        }
    }
    out
}
