//! The SNI/Host-routing TLS-passthrough forwarder.
//!
//! Pure parts (no sockets): [`hello`] (ClientHello reader), [`http`]
//! (request head reader), [`route`] (host → backend), [`proxy_header`]
//! (PROXY v1/v2 codec), [`balance`] (server choice). I/O parts: the
//! listeners, connections and relay, and the health checks, driven by
//! [`Forwarder`].

pub mod accounting;
pub mod backend;
pub mod balance;
mod conn;
pub mod drain;
pub mod error;
mod health;
pub mod hello;
pub mod http;
mod listener;
pub mod log;
pub mod per_source;
pub mod proxy_header;
mod relay;
pub mod route;
mod splice;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

pub use accounting::{ConnInfo, EndReason, Stats};
pub use backend::{BackendStatus, ServerStatus};
pub use error::{ForwarderError, Side};

use accounting::Accounting;
use backend::Backends;
use route::RouteTable;

/// The routing state a connection takes at its start and keeps.
struct Routing {
    table: RouteTable,
    backends: Backends,
}

/// State shared by every listener and connection.
struct Shared {
    routing: ArcSwap<Routing>,
    accounting: Arc<Accounting>,
    global: ArcSwap<Semaphore>,
    /// Cancelled when the drain period is over.
    kill: CancellationToken,
    /// The connection log.
    log: Arc<log::ConnLog>,
    /// `limits.conn_max` per source, counted at accept.
    per_source: Arc<per_source::PerSource>,
}

/// What a connection needs from its listener.
struct ListenerCtx {
    config: crate::config::Listener,
    name: Arc<str>,
    permits: Arc<Semaphore>,
}

struct ListenerHandle {
    /// The address actually bound (differs from the config with port 0).
    local: SocketAddr,
    ctx: Arc<ArcSwap<ListenerCtx>>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

struct Inner {
    /// By bind address, so a renamed listener keeps its socket.
    listeners: HashMap<SocketAddr, ListenerHandle>,
    health: CancellationToken,
    global_max: u32,
    /// Drained servers, applied to every new set of backends.
    drained: drain::Drained,
    state_dir: std::path::PathBuf,
}

/// The running forwarder: listeners, health checks, live connections.
pub struct Forwarder {
    shared: Arc<Shared>,
    inner: Mutex<Inner>,
    alive_tx: mpsc::Sender<()>,
    alive_rx: tokio::sync::Mutex<mpsc::Receiver<()>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Forwarder {
    /// Binds every listener of `config` and starts serving. A bind failure
    /// names the listener and address, and leaves nothing bound. Must be
    /// called inside a tokio runtime.
    pub fn start(config: &crate::config::Config) -> Result<Forwarder, ForwarderError> {
        let max = config.appliance.max_connections;
        let routing = Routing {
            table: RouteTable::build(config),
            backends: backend::build(config, &HashMap::new()),
        };
        let shared = Arc::new(Shared {
            routing: ArcSwap::from_pointee(routing),
            accounting: Arc::default(),
            global: ArcSwap::from_pointee(Semaphore::new(permits(max))),
            kill: CancellationToken::new(),
            log: log::ConnLog::start(config),
            per_source: Arc::default(),
        });
        let (alive_tx, alive_rx) = mpsc::channel(1);
        let forwarder = Forwarder {
            shared,
            inner: Mutex::new(Inner {
                listeners: HashMap::new(),
                health: CancellationToken::new(),
                global_max: max,
                drained: drain::load(&config.appliance.state_dir),
                state_dir: config.appliance.state_dir.clone(),
            }),
            alive_tx,
            alive_rx: tokio::sync::Mutex::new(alive_rx),
        };
        forwarder.reload(config)?;
        Ok(forwarder)
    }

    /// Applies a new config: the route table and backends are swapped whole
    /// (servers that remain keep their health and counters), new listeners
    /// are opened, removed ones stop accepting while their connections
    /// drain. If a new listener cannot bind, nothing changes.
    pub fn reload(&self, config: &crate::config::Config) -> Result<(), ForwarderError> {
        let mut inner = lock(&self.inner);
        let mut fresh = Vec::new();
        for l in &config.listeners {
            if !inner.listeners.contains_key(&l.bind) {
                fresh.push((l, listener::bind(&l.name, l.bind)?));
            }
        }
        let old = self.shared.routing.load_full();
        let backends = backend::build(config, &old.backends);
        backend::mark_drained(&backends, &inner.drained);
        self.shared.log.reconfigure(&config.log);
        let limits = &config.limits;
        self.shared
            .per_source
            .configure(limits.conn_max, limits.ipv6_prefix);
        inner.health.cancel();
        inner.health = CancellationToken::new();
        spawn_health(&backends, &inner.health);
        self.shared.routing.store(Arc::new(Routing {
            table: RouteTable::build(config),
            backends,
        }));
        if inner.global_max != config.appliance.max_connections {
            inner.global_max = config.appliance.max_connections;
            let sem = Semaphore::new(permits(inner.global_max));
            self.shared.global.store(Arc::new(sem));
        }
        self.update_listeners(&mut inner, config, fresh);
        Ok(())
    }

    fn update_listeners(
        &self,
        inner: &mut Inner,
        config: &crate::config::Config,
        fresh: Vec<(&crate::config::Listener, tokio::net::TcpListener)>,
    ) {
        let wanted: Vec<SocketAddr> = config.listeners.iter().map(|l| l.bind).collect();
        inner.listeners.retain(|addr, handle| {
            let keep = wanted.contains(addr);
            if !keep {
                handle.stop.cancel();
            }
            keep
        });
        for l in &config.listeners {
            if let Some(handle) = inner.listeners.get(&l.bind) {
                let old = handle.ctx.load();
                let permits = if old.config.max_connections == l.max_connections {
                    old.permits.clone()
                } else {
                    Arc::new(Semaphore::new(permits(l.max_connections)))
                };
                handle.ctx.store(Arc::new(ListenerCtx {
                    config: l.clone(),
                    name: Arc::from(l.name.as_str()),
                    permits,
                }));
            }
        }
        for (l, socket) in fresh {
            let ctx = Arc::new(ArcSwap::from_pointee(ListenerCtx {
                config: l.clone(),
                name: Arc::from(l.name.as_str()),
                permits: Arc::new(Semaphore::new(permits(l.max_connections))),
            }));
            let stop = CancellationToken::new();
            let local = socket.local_addr().unwrap_or(l.bind);
            let task = tokio::spawn(listener::accept_loop(
                socket,
                ctx.clone(),
                self.shared.clone(),
                stop.clone(),
                self.alive_tx.clone(),
            ));
            tracing::info!(listener = l.name, bind = %l.bind, "listening");
            inner.listeners.insert(
                l.bind,
                ListenerHandle {
                    local,
                    ctx,
                    stop,
                    task,
                },
            );
        }
    }

    /// Stops accepting, lets connections finish for up to `drain`, then
    /// closes those still open.
    pub async fn shutdown(self, drain: Duration) {
        let handles: Vec<ListenerHandle> = {
            let mut inner = lock(&self.inner);
            inner.health.cancel();
            inner.listeners.drain().map(|(_, h)| h).collect()
        };
        for h in handles {
            h.stop.cancel();
            let _ = h.task.await;
        }
        let Forwarder {
            shared,
            alive_tx,
            alive_rx,
            ..
        } = self;
        drop(alive_tx);
        let mut rx = alive_rx.into_inner();
        if tokio::time::timeout(drain, rx.recv()).await.is_err() {
            tracing::warn!(
                open = shared.accounting.stats().active,
                "drain period over, closing"
            );
            shared.kill.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(2), rx.recv()).await;
        }
    }

    /// The bound listeners: name and local address (useful with port 0).
    pub fn listeners(&self) -> Vec<(String, SocketAddr)> {
        let inner = lock(&self.inner);
        let mut out: Vec<_> = inner
            .listeners
            .values()
            .map(|h| {
                let ctx = h.ctx.load();
                (ctx.config.name.clone(), h.local)
            })
            .collect();
        out.sort();
        out
    }

    /// The live connections, oldest first.
    pub fn connections(&self) -> Vec<ConnInfo> {
        self.shared.accounting.connections()
    }

    /// Every backend and its servers, by name.
    pub fn backends(&self) -> Vec<BackendStatus> {
        backend::status(&self.shared.routing.load().backends)
    }

    /// Counters since start.
    pub fn stats(&self) -> Stats {
        self.shared.accounting.stats()
    }

    /// Drains (`on`) or undrains a server: no new connection goes to a
    /// drained one, open ones go on. Kept across reloads and, in
    /// `state_dir/drained.json`, across restarts.
    pub fn set_drained(
        &self,
        backend: &str,
        server: &str,
        on: bool,
    ) -> Result<(), drain::DrainError> {
        let routing = self.shared.routing.load();
        let b = routing
            .backends
            .get(backend)
            .ok_or_else(|| drain::DrainError::UnknownBackend(backend.to_string()))?;
        let found = b
            .servers
            .iter()
            .find(|s| server.parse::<SocketAddr>().is_ok_and(|a| a == s.addr))
            .ok_or_else(|| drain::DrainError::UnknownServer {
                backend: backend.to_string(),
                server: server.to_string(),
                known: b
                    .servers
                    .iter()
                    .map(|s| s.addr.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let mut inner = lock(&self.inner);
        let key = (backend.to_string(), found.addr);
        let mut next = inner.drained.clone();
        if on {
            next.insert(key);
        } else {
            next.remove(&key);
        }
        drain::save(&inner.state_dir, &next)?;
        inner.drained = next;
        found.set_drained(on);
        Ok(())
    }

    /// The connection log: recent lines, dropped count.
    pub fn log(&self) -> &log::ConnLog {
        &self.shared.log
    }
}

fn permits(max: u32) -> usize {
    usize::try_from(max)
        .unwrap_or(usize::MAX)
        .min(Semaphore::MAX_PERMITS)
}

fn spawn_health(backends: &Backends, stop: &CancellationToken) {
    for (name, b) in backends {
        for server in &b.servers {
            tokio::spawn(health::run(
                name.clone(),
                server.clone(),
                b.config.health,
                b.config.proxy_protocol,
                stop.clone(),
            ));
        }
    }
}
