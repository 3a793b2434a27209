//! The pair in the "neutron" failover mode with the Keystone/Neutron
//! stand-in, for `tests/ha_neutron.rs` and `benches/ha.rs --mode neutron`:
//! a thin view of [`Pair`] (which starts it). Does I/O.

#![allow(dead_code)]

use std::time::Duration;

use crate::ha_support::Pair;
use parvis::lab::neutron::StandIn;

pub use crate::ha_support::failover;

/// The pair and its stand-in.
pub struct NPair {
    pub p: Pair,
}

impl NPair {
    /// Builds the lab, starts the stand-in (each call taking `delay`), `a`
    /// (MASTER, which points the floating IP at itself), then `b`.
    pub fn start(delay: Duration, secret_in_file: bool) -> NPair {
        Self::start_with(delay, secret_in_file, crate::ha_support::ADVERT)
    }

    /// [`NPair::start`] at another advertisement interval.
    pub fn start_with(delay: Duration, secret_in_file: bool, advert: Duration) -> NPair {
        NPair {
            p: Pair::start_neutron(delay, secret_in_file, advert),
        }
    }

    /// The stand-in.
    pub fn api(&self) -> &StandIn {
        self.p
            .api
            .as_ref()
            .expect("the neutron mode has a stand-in")
    }

    /// Starts node `i` with its stdout and stderr in `dir/<node>.log`.
    pub fn start_node(&mut self, i: usize) {
        self.p.start_node(i);
    }

    /// Which node's port the stand-in says the floating IP points at.
    pub fn port(&self) -> Option<usize> {
        self.p.fip_port()
    }

    /// `neutron.<key>` of node `i`'s `parvis ha status --json`.
    pub fn fip(&self, i: usize, key: &str) -> serde_json::Value {
        self.p
            .status(i)
            .and_then(|v| v.pointer(&format!("/neutron/{key}")).cloned())
            .unwrap_or_default()
    }
}
