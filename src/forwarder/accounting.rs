//! Per-connection accounting: the live table (admin UI "connections") and
//! counters per listener, backend and end reason (metrics). In-memory only.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use serde::Serialize;

use super::error::Side;

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The client closed first.
    ClientClosed,
    /// The backend closed first.
    BackendClosed,
    /// Hello/head not read in time, or idle too long.
    Timeout,
    /// No route and no default backend.
    NoRoute,
    /// No healthy server, or connecting failed (also after the retry).
    BackendDown,
    /// Not TLS/HTTP, truncated, oversized or malformed hello/head.
    BadHello,
    /// A PROXY header from an untrusted peer, or a bad one from a trusted peer.
    ProxyRejected,
    /// Over the global or listener connection cap, or the source's
    /// `limits.conn_max`.
    Overload,
    /// Closed by a shutdown after the drain period.
    Shutdown,
    /// The connection's task failed (a bug): closed by its guard.
    Internal,
}

impl EndReason {
    /// The name in the API and the `result` label of the metrics
    /// (`client_closed`, ...; the same as its serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::ClientClosed => "client_closed",
            EndReason::BackendClosed => "backend_closed",
            EndReason::Timeout => "timeout",
            EndReason::NoRoute => "no_route",
            EndReason::BackendDown => "backend_down",
            EndReason::BadHello => "bad_hello",
            EndReason::ProxyRejected => "proxy_rejected",
            EndReason::Overload => "overload",
            EndReason::Shutdown => "shutdown",
            EndReason::Internal => "internal",
        }
    }

    /// The side that failed; `None` when one side closed normally. A
    /// timeout is the client's: the hello is its to send, and an idle
    /// connection its to close.
    pub fn side(self) -> Option<Side> {
        match self {
            EndReason::ClientClosed | EndReason::BackendClosed => None,
            EndReason::Timeout
            | EndReason::NoRoute
            | EndReason::BadHello
            | EndReason::ProxyRejected => Some(Side::Client),
            EndReason::BackendDown => Some(Side::Backend),
            EndReason::Overload | EndReason::Shutdown | EndReason::Internal => Some(Side::Internal),
        }
    }
}

/// A snapshot of one live connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnInfo {
    /// Unique per process.
    pub id: u64,
    /// Listener name.
    pub listener: String,
    /// The client (from a trusted PROXY header where set).
    pub client: SocketAddr,
    /// SNI or Host, once read.
    pub host: Option<String>,
    /// Backend name, once routed.
    pub backend: Option<String>,
    /// Server, once connected.
    pub server: Option<SocketAddr>,
    /// Bytes client → backend.
    pub bytes_in: u64,
    /// Bytes backend → client.
    pub bytes_out: u64,
    /// When accepted, in milliseconds since the Unix epoch.
    pub started_ms: u64,
}

/// What [`LiveConn::set_routed`] records.
#[derive(Debug, Clone, Copy)]
pub struct RoutedBy<'a> {
    /// SNI or Host.
    pub host: Option<&'a str>,
    /// The backend's name.
    pub backend: &'a str,
    /// The route's index (`None`: the default backend).
    pub route: Option<usize>,
    /// The route as metrics name it.
    pub label: &'a Arc<str>,
    /// The ALPN protocol matched or first offered.
    pub alpn: Option<&'a [u8]>,
}

#[derive(Debug, Default)]
struct Routed {
    client: Option<SocketAddr>,
    host: Option<String>,
    backend: Option<String>,
    server: Option<SocketAddr>,
    route: Option<usize>,
    /// The route as metrics name it (`default` for the default backend).
    route_label: Option<std::sync::Arc<str>>,
    alpn: Option<String>,
}

/// A finished connection, as the connection log prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finished {
    /// The connection's unique id (also the PROXY v2 UNIQUE_ID TLV).
    pub id: String,
    /// When accepted, in milliseconds since the Unix epoch.
    pub started_ms: u64,
    /// Listener name.
    pub listener: String,
    /// The client (from a trusted PROXY header where set).
    pub client: SocketAddr,
    /// SNI or Host.
    pub host: Option<String>,
    /// The ALPN protocol matched or first offered.
    pub alpn: Option<String>,
    /// `route[i]` or `default`, once routed.
    pub route: Option<String>,
    /// Backend name, once routed.
    pub backend: Option<String>,
    /// Server, once connected.
    pub server: Option<SocketAddr>,
    /// Bytes client → backend.
    pub bytes_in: u64,
    /// Bytes backend → client.
    pub bytes_out: u64,
    /// From accept to close.
    pub duration_ms: u64,
    /// From accept to the backend's first byte, when seen.
    pub ttfb_ms: Option<u64>,
    /// How it ended.
    pub end: EndReason,
}

/// One connection as it lives; byte counters are updated by the relay.
#[derive(Debug)]
pub struct LiveConn {
    id: u64,
    listener: Arc<str>,
    peer: SocketAddr,
    started: SystemTime,
    clock: std::time::Instant,
    /// Milliseconds from accept to the backend's first byte, plus one (0: none yet).
    first_byte: AtomicU64,
    routed: Mutex<Routed>,
    /// Bytes client → backend.
    pub bytes_in: AtomicU64,
    /// Bytes backend → client.
    pub bytes_out: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not stop accounting: take the data as it is.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl LiveConn {
    /// Records the real client from a trusted PROXY header.
    pub fn set_client(&self, client: SocketAddr) {
        lock(&self.routed).client = Some(client);
    }
    /// Records what routing found: the host, the backend, the route
    /// (`None`: the default backend), its name for the per-route
    /// counters, and the ALPN protocol. One lock for all of it.
    pub fn set_routed(&self, r: RoutedBy<'_>) {
        let mut routed = lock(&self.routed);
        routed.host = r.host.map(str::to_string);
        routed.backend = Some(r.backend.to_string());
        routed.route = r.route;
        routed.route_label = Some(r.label.clone());
        routed.alpn = r.alpn.map(|a| String::from_utf8_lossy(a).into_owned());
    }
    /// Records the server.
    pub fn set_server(&self, server: SocketAddr) {
        lock(&self.routed).server = Some(server);
    }
    /// Notes that the backend's first byte is there.
    pub fn mark_first_byte(&self) {
        let ms = u64::try_from(self.clock.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        let _ = self
            .first_byte
            .compare_exchange(0, ms + 1, Ordering::Relaxed, Ordering::Relaxed);
    }
    /// The unique id: this process's nonce and the connection's number.
    pub fn uid(&self) -> String {
        format!("{:08x}-{:x}", nonce(), self.id)
    }
    /// The log record and the route's counter label; takes the routing
    /// lock once and moves its strings out (this runs once, at the end of
    /// every connection: the connection has already left the live table).
    fn finished(&self, reason: EndReason) -> (Finished, Option<Arc<str>>) {
        let mut r = lock(&self.routed);
        let route = match (r.route, &r.backend) {
            (Some(i), _) => Some(format!("route[{i}]")),
            (None, Some(_)) => Some("default".to_string()),
            (None, None) => None,
        };
        let finished = Finished {
            id: self.uid(),
            started_ms: millis_since_epoch(self.started),
            listener: self.listener.to_string(),
            client: r.client.unwrap_or(self.peer),
            host: r.host.take(),
            alpn: r.alpn.take(),
            route,
            backend: r.backend.take(),
            server: r.server,
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            duration_ms: u64::try_from(self.clock.elapsed().as_millis()).unwrap_or(u64::MAX),
            ttfb_ms: self.first_byte.load(Ordering::Relaxed).checked_sub(1),
            end: reason,
        };
        (finished, r.route_label.take())
    }
    fn info(&self) -> ConnInfo {
        let r = lock(&self.routed);
        ConnInfo {
            id: self.id,
            listener: self.listener.to_string(),
            client: r.client.unwrap_or(self.peer),
            host: r.host.clone(),
            backend: r.backend.clone(),
            server: r.server,
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            started_ms: millis_since_epoch(self.started),
        }
    }
}

fn millis_since_epoch(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `map[key]`, inserted as the default the first time: the key is
/// allocated only then, not at every count.
fn slot<'m, V: Default>(map: &'m mut BTreeMap<String, V>, key: &str) -> &'m mut V {
    if !map.contains_key(key) {
        map.insert(key.to_string(), V::default());
    }
    map.get_mut(key).expect("inserted above")
}

/// Adds `by` to `map[key]`.
fn bump(map: &mut BTreeMap<String, u64>, key: &str, by: u64) {
    *slot(map, key) += by;
}

/// The counter of (listener, route, backend).
fn route_count<'m>(
    routes: &'m mut BTreeMap<String, BTreeMap<String, BTreeMap<String, RouteCount>>>,
    listener: &str,
    route: &str,
    backend: &str,
) -> &'m mut RouteCount {
    slot(slot(slot(routes, listener), route), backend)
}

/// Counts one `reason` under `listener`.
fn bump_ended(
    ended: &mut BTreeMap<String, BTreeMap<EndReason, u64>>,
    listener: &str,
    reason: EndReason,
) {
    *slot(ended, listener).entry(reason).or_default() += 1;
}

/// A number drawn once per process, so that ids differ across restarts.
fn nonce() -> u32 {
    static NONCE: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *NONCE.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        h.write_u128(
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        u32::try_from(h.finish() >> 32).unwrap_or_default()
    })
}

/// Counters since start.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Accepted connections per listener.
    pub accepted: BTreeMap<String, u64>,
    /// Ended connections per (listener, reason).
    pub ended: BTreeMap<String, BTreeMap<EndReason, u64>>,
    /// Connections forwarded per backend.
    pub forwarded: BTreeMap<String, u64>,
    /// Bytes client → backend, per backend.
    pub bytes_in: BTreeMap<String, u64>,
    /// Bytes backend → client, per backend.
    pub bytes_out: BTreeMap<String, u64>,
    /// Connections open now.
    pub active: u64,
    /// Routed connections and their bytes, by listener, route (its
    /// hosts, or `default`) and backend.
    pub routes: BTreeMap<String, BTreeMap<String, BTreeMap<String, RouteCount>>>,
}

/// The counters of one route.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RouteCount {
    /// Connections routed (whether or not a server answered).
    pub connections: u64,
    /// Bytes client → backend.
    pub bytes_in: u64,
    /// Bytes backend → client.
    pub bytes_out: u64,
}

/// The live table and the counters.
#[derive(Debug, Default)]
pub struct Accounting {
    next_id: AtomicU64,
    live: Mutex<HashMap<u64, Arc<LiveConn>>>,
    stats: Mutex<Stats>,
}

impl Accounting {
    /// Registers an accepted connection.
    pub fn open(&self, listener: Arc<str>, peer: SocketAddr) -> Arc<LiveConn> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let conn = Arc::new(LiveConn {
            id,
            listener: listener.clone(),
            peer,
            started: SystemTime::now(),
            clock: std::time::Instant::now(),
            first_byte: AtomicU64::new(0),
            routed: Mutex::default(),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
        });
        lock(&self.live).insert(id, conn.clone());
        let mut s = lock(&self.stats);
        bump(&mut s.accepted, &listener, 1);
        s.active += 1;
        conn
    }

    /// Counts a connection refused before it was registered (over the cap).
    pub fn refuse(&self, listener: &str, reason: EndReason) {
        let mut s = lock(&self.stats);
        bump(&mut s.accepted, listener, 1);
        bump_ended(&mut s.ended, listener, reason);
    }

    /// Removes a connection from the live table, counts how it ended and
    /// returns its log record.
    pub fn close(&self, conn: &LiveConn, reason: EndReason) -> Finished {
        lock(&self.live).remove(&conn.id);
        let (f, label) = conn.finished(reason);
        let mut s = lock(&self.stats);
        s.active = s.active.saturating_sub(1);
        bump_ended(&mut s.ended, &f.listener, reason);
        if let (Some(route), Some(backend)) = (label, f.backend.as_deref()) {
            let c = route_count(&mut s.routes, &f.listener, &route, backend);
            c.connections += 1;
            c.bytes_in += f.bytes_in;
            c.bytes_out += f.bytes_out;
        }
        if let (Some(backend), Some(_)) = (&f.backend, f.server) {
            bump(&mut s.forwarded, backend, 1);
            bump(&mut s.bytes_in, backend, f.bytes_in);
            bump(&mut s.bytes_out, backend, f.bytes_out);
        }
        f
    }

    /// Registers an accepted connection and returns a guard that closes
    /// it when dropped: with the reason given to [`Open::end`], or
    /// [`EndReason::Internal`] if the task serving it failed first, so no
    /// ghost entry stays in the live table.
    pub fn open_guarded(self: &Arc<Self>, listener: Arc<str>, peer: SocketAddr) -> Open {
        Open {
            live: self.open(listener, peer),
            accounting: self.clone(),
            reason: None,
            done: false,
        }
    }

    /// The live connections, oldest first.
    pub fn connections(&self) -> Vec<ConnInfo> {
        let conns: Vec<Arc<LiveConn>> = lock(&self.live).values().cloned().collect();
        let mut out: Vec<ConnInfo> = conns.iter().map(|c| c.info()).collect();
        out.sort_by_key(|c| c.id);
        out
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        lock(&self.stats).clone()
    }
}

/// A registered connection that closes itself (see
/// [`Accounting::open_guarded`]).
#[derive(Debug)]
pub struct Open {
    accounting: Arc<Accounting>,
    live: Arc<LiveConn>,
    reason: Option<EndReason>,
    done: bool,
}

impl Open {
    /// The live entry, for the task to update.
    pub fn live(&self) -> &LiveConn {
        &self.live
    }

    /// Records how the connection ended; closes it now.
    pub fn end(mut self, reason: EndReason) {
        self.reason = Some(reason);
    }

    /// Closes it now with `reason` and returns its log record.
    pub fn finish(mut self, reason: EndReason) -> Finished {
        self.done = true;
        self.accounting.close(&self.live, reason)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let reason = self.reason.unwrap_or(EndReason::Internal);
        let _ = self.accounting.close(&self.live, reason);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const ALL: [EndReason; 10] = [
        EndReason::ClientClosed,
        EndReason::BackendClosed,
        EndReason::Timeout,
        EndReason::NoRoute,
        EndReason::BackendDown,
        EndReason::BadHello,
        EndReason::ProxyRejected,
        EndReason::Overload,
        EndReason::Shutdown,
        EndReason::Internal,
    ];

    #[test]
    fn labels_are_the_serde_names() {
        for r in ALL {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str(), "{r:?}");
        }
    }

    #[test]
    fn each_failure_names_a_side() {
        assert_eq!(EndReason::ClientClosed.side(), None);
        assert_eq!(EndReason::BadHello.side(), Some(Side::Client));
        assert_eq!(EndReason::BackendDown.side(), Some(Side::Backend));
        assert_eq!(EndReason::Overload.side(), Some(Side::Internal));
        assert_eq!(Side::Backend.as_str(), "backend");
    }

    #[test]
    fn a_failed_task_leaves_no_ghost_entry() {
        let acc = Arc::new(Accounting::default());
        let peer: SocketAddr = "198.51.100.10:40000".parse().unwrap();
        let open = acc.open_guarded("https".into(), peer);
        assert_eq!(acc.connections().len(), 1);
        // The task serving it panics: its guard is dropped while unwinding.
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _open = open;
            panic!("a bug while serving");
        }));
        assert!(caught.is_err());
        assert!(acc.connections().is_empty(), "ghost entry left");
        let stats = acc.stats();
        assert_eq!(stats.active, 0);
        assert_eq!(stats.ended["https"][&EndReason::Internal], 1);
        let done = acc.open_guarded("https".into(), peer);
        done.end(EndReason::ClientClosed);
        assert!(acc.connections().is_empty());
        assert_eq!(acc.stats().ended["https"][&EndReason::ClientClosed], 1);
    }
}
