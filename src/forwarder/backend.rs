//! Backend and server state shared by the connections and the health
//! checks: health, active and total connections, bytes. In-memory only.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use serde::Serialize;

use super::balance::{self, Candidate};
use crate::config::{self, Config};

/// One server of a backend; kept across reloads while its backend still lists it.
#[derive(Debug)]
pub struct ServerState {
    /// Address.
    pub addr: SocketAddr,
    up: AtomicBool,
    drained: AtomicBool,
    active: AtomicU32,
    total: AtomicU64,
    /// Client → server.
    bytes_in: AtomicU64,
    /// Server → client.
    bytes_out: AtomicU64,
    /// Health-check transitions to up, to down.
    went_up: AtomicU64,
    went_down: AtomicU64,
}

impl ServerState {
    fn new(addr: SocketAddr) -> Self {
        // Servers start up: listeners serve at once, a dead server is marked
        // down within fall × interval, and the connect retry covers the gap.
        ServerState {
            addr,
            up: AtomicBool::new(true),
            drained: AtomicBool::new(false),
            active: AtomicU32::new(0),
            total: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            went_up: AtomicU64::new(0),
            went_down: AtomicU64::new(0),
        }
    }
    /// Healthy.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }
    /// Drained by the operator: no new connection.
    pub fn is_drained(&self) -> bool {
        self.drained.load(Ordering::Relaxed)
    }
    /// Drains or undrains.
    pub fn set_drained(&self, drained: bool) {
        self.drained.store(drained, Ordering::Relaxed);
    }
    /// Sets health; true if it changed (then counted as a transition).
    pub fn set_up(&self, up: bool) -> bool {
        let changed = self.up.swap(up, Ordering::Relaxed) != up;
        if changed {
            let count = if up { &self.went_up } else { &self.went_down };
            count.fetch_add(1, Ordering::Relaxed);
        }
        changed
    }
    /// Counts a new connection; the guard uncounts it when dropped.
    pub fn begin(self: &Arc<Self>) -> ActiveGuard {
        self.active.fetch_add(1, Ordering::Relaxed);
        self.total.fetch_add(1, Ordering::Relaxed);
        ActiveGuard(self.clone())
    }
    /// Adds relayed bytes: `sent` client → server, `received` server → client.
    pub fn add_bytes(&self, sent: u64, received: u64) {
        self.bytes_in.fetch_add(sent, Ordering::Relaxed);
        self.bytes_out.fetch_add(received, Ordering::Relaxed);
    }
}

/// Holds one active-connection count on a server.
#[derive(Debug)]
pub struct ActiveGuard(Arc<ServerState>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A backend: its config and its servers.
#[derive(Debug)]
pub struct BackendState {
    /// The config section.
    pub config: config::Backend,
    /// Servers, in config order.
    pub servers: Vec<Arc<ServerState>>,
    turn: AtomicUsize,
}

impl BackendState {
    /// Picks a healthy server other than `exclude`.
    pub fn pick(&self, client: std::net::IpAddr, exclude: Option<usize>) -> Option<usize> {
        let candidates: Vec<Candidate> = self
            .servers
            .iter()
            .map(|s| Candidate {
                addr: s.addr,
                // A drained server is out of the choice, as a down one.
                up: s.is_up() && !s.is_drained(),
                active: s.active.load(Ordering::Relaxed),
            })
            .collect();
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        balance::pick(self.config.balance, &candidates, client, turn, exclude)
    }
}

/// Every backend by name.
pub type Backends = HashMap<String, Arc<BackendState>>;

/// Builds the backends of `config`, reusing the state of servers that remain
/// in a backend of the same name (health, counters).
pub fn build(config: &Config, old: &Backends) -> Backends {
    config
        .backends
        .iter()
        .map(|(name, b)| {
            let previous = old.get(name);
            let servers = b
                .servers
                .iter()
                .map(|addr| {
                    previous
                        .and_then(|p| p.servers.iter().find(|s| s.addr == *addr))
                        .cloned()
                        .unwrap_or_else(|| Arc::new(ServerState::new(*addr)))
                })
                .collect();
            let state = BackendState {
                config: b.clone(),
                servers,
                turn: AtomicUsize::new(0),
            };
            (name.clone(), Arc::new(state))
        })
        .collect()
}

/// Marks the servers in `drained` and clears the others.
pub fn mark_drained(backends: &Backends, drained: &super::drain::Drained) {
    for (name, b) in backends {
        for s in &b.servers {
            s.set_drained(drained.contains(&(name.clone(), s.addr)));
        }
    }
}

/// A snapshot of one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerStatus {
    /// Address.
    pub addr: SocketAddr,
    /// Healthy.
    pub up: bool,
    /// Drained by the operator.
    pub drained: bool,
    /// Connections open now.
    pub active: u32,
    /// Connections since start.
    pub total: u64,
    /// Bytes relayed client → server.
    pub bytes_in: u64,
    /// Bytes relayed server → client.
    pub bytes_out: u64,
    /// Health-check transitions to up since start.
    pub went_up: u64,
    /// Health-check transitions to down since start.
    pub went_down: u64,
}

/// A snapshot of one backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackendStatus {
    /// Name.
    pub name: String,
    /// Servers, in config order.
    pub servers: Vec<ServerStatus>,
}

/// Snapshots every backend, by name.
pub fn status(backends: &Backends) -> Vec<BackendStatus> {
    let sorted: BTreeMap<_, _> = backends.iter().collect();
    sorted
        .into_iter()
        .map(|(name, b)| BackendStatus {
            name: name.clone(),
            servers: b
                .servers
                .iter()
                .map(|s| ServerStatus {
                    addr: s.addr,
                    up: s.is_up(),
                    drained: s.is_drained(),
                    active: s.active.load(Ordering::Relaxed),
                    total: s.total.load(Ordering::Relaxed),
                    bytes_in: s.bytes_in.load(Ordering::Relaxed),
                    bytes_out: s.bytes_out.load(Ordering::Relaxed),
                    went_up: s.went_up.load(Ordering::Relaxed),
                    went_down: s.went_down.load(Ordering::Relaxed),
                })
                .collect(),
        })
        .collect()
}
