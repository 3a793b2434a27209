//! The pair in the "neutron" failover mode with the Keystone/Neutron
//! stand-in, for `tests/ha_neutron.rs` and `benches/ha.rs --mode neutron`.
//! Does I/O.

#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use crate::ha_support::{exe, require_root, wait_for, Pair};
use parvis::lab::neutron::{StandIn, PORT_IDS};
use parvis::lab::neutron_pair::{neutron_config, write_secret};
use parvis::lab::pair::{start_backends, start_node_logged};
use parvis::lab::PairTopology;

/// Failover deadline at `advert`: the master-down interval and then some.
pub fn failover() -> Duration {
    crate::ha_support::ADVERT * 4 + Duration::from_secs(3)
}

/// The pair and the stand-in (dropped after the daemons).
pub struct NPair {
    pub p: Pair,
    pub api: StandIn,
}

impl NPair {
    /// Builds the lab, starts the stand-in (each call taking `delay`), `a`
    /// (MASTER, which points the floating IP at itself), then `b`.
    pub fn start(delay: Duration, secret_in_file: bool) -> NPair {
        Self::start_with(delay, secret_in_file, crate::ha_support::ADVERT)
    }

    /// [`NPair::start`] at another advertisement interval.
    pub fn start_with(delay: Duration, secret_in_file: bool, advert: Duration) -> NPair {
        require_root();
        let topo = PairTopology::build().expect("pair topology");
        let api = StandIn::start(topo.router().name()).expect("stand-in");
        api.world().delay = delay;
        let backends = start_backends(&topo, &exe()).expect("backends");
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let dir = tempfile::tempdir_in(base).expect("tempdir");
        let secret = secret_in_file.then(|| write_secret(dir.path()).expect("secret"));
        let text = neutron_config(&dir.path().join("state"), advert, secret.as_deref());
        let mut n = NPair {
            p: Pair {
                daemons: [None, None],
                backends,
                topo,
                dir,
                text,
            },
            api,
        };
        n.start_node(0);
        wait_for("a MASTER", Duration::from_secs(15), || {
            n.p.role(0) == "MASTER"
        });
        n.start_node(1);
        wait_for("b BACKUP", Duration::from_secs(15), || {
            n.p.role(1) == "BACKUP"
        });
        wait_for("the floating IP on a", failover() + delay * 2, || {
            n.port() == Some(0)
        });
        wait_for("TLS through a", failover(), || n.p.tls_ok());
        n
    }

    /// Starts node `i` with its stdout and stderr in `dir/<node>.log`.
    pub fn start_node(&mut self, i: usize) {
        let d = start_node_logged(&self.p.topo, i, &exe(), self.p.dir.path(), &self.p.text);
        self.p.daemons[i] = Some(d.expect("daemon"));
    }

    /// Which node's port the stand-in says the floating IP points at.
    pub fn port(&self) -> Option<usize> {
        let w = self.api.world();
        w.port
            .as_deref()
            .and_then(|p| PORT_IDS.iter().position(|x| *x == p))
    }

    /// `neutron.<key>` of node `i`'s `parvis ha status --json`.
    pub fn fip(&self, i: usize, key: &str) -> serde_json::Value {
        self.p
            .status(i)
            .and_then(|v| v.pointer(&format!("/neutron/{key}")).cloned())
            .unwrap_or_default()
    }
}
