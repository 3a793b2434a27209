//! Listening sockets and their accept loops: the global and per-listener
//! caps and the source's `limits.conn_max` slot are taken at accept (over
//! a cap: closed at once), then each connection runs in its own task.
//! Does I/O.

use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use super::accounting::EndReason;
use super::error::ForwarderError;
use super::{conn, ListenerCtx, Shared};

/// Pending connections the kernel queues per listener.
const BACKLOG: u32 = 4096;
/// How often an idle accept loop records that it is still going round.
const BEAT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// An accept loop's heartbeat: when it last went round. An idle loop wakes
/// every [`BEAT_EVERY`] to record it, so a loop that stops beating is stuck
/// (a blocking call, a starved runtime), not merely idle.
#[derive(Debug)]
pub struct Beat {
    start: std::time::Instant,
    /// Milliseconds since `start` of the last round.
    last_ms: std::sync::atomic::AtomicU64,
}

impl Beat {
    /// A heartbeat that has just beaten.
    pub fn new() -> Beat {
        Beat {
            start: std::time::Instant::now(),
            last_ms: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn beat(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// How long since the last round.
    pub fn age(&self) -> std::time::Duration {
        let last = self.last_ms.load(std::sync::atomic::Ordering::Relaxed);
        self.start
            .elapsed()
            .saturating_sub(std::time::Duration::from_millis(last))
    }
}

impl Default for Beat {
    fn default() -> Self {
        Beat::new()
    }
}

/// Binds `addr` with SO_REUSEADDR, IP_FREEBIND (IPv4), TCP_NODELAY and a
/// deep backlog. Free bind lets the standby node of a pair listen on the
/// public VIP it does not hold yet, so a takeover needs no restart of the
/// forwarder. Accepted sockets inherit TCP_NODELAY from the listener
/// (Linux copies it), which saves a `setsockopt` per connection.
pub fn bind(name: &str, addr: SocketAddr) -> Result<TcpListener, ForwarderError> {
    let fail = |source| ForwarderError::Bind {
        listener: name.to_string(),
        addr,
        source,
    };
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(fail)?;
    socket.set_reuseaddr(true).map_err(fail)?;
    socket.set_nodelay(true).map_err(fail)?;
    if addr.is_ipv4() {
        nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::IpFreebind, &true)
            .map_err(|e| fail(std::io::Error::from(e)))?;
    }
    socket.bind(addr).map_err(fail)?;
    socket.listen(BACKLOG).map_err(fail)
}

/// Accepts until `stop`; `alive` is held by every connection task so that
/// shutdown can wait for them; `beat` records each round of the loop.
pub async fn accept_loop(
    listener: TcpListener,
    ctx: Arc<ArcSwap<ListenerCtx>>,
    shared: Arc<Shared>,
    stop: CancellationToken,
    (alive, beat): (mpsc::Sender<()>, Arc<Beat>),
) {
    let mut tick = tokio::time::interval(BEAT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // The heartbeat is recorded on the timer's branch only, so an
        // accepted connection pays nothing for it; `select!` polls its
        // branches in random order, so a busy loop still takes the tick.
        let accepted = tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {
                beat.beat();
                continue;
            }
            r = listener.accept() => r,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Out of file descriptors and the like: wait a little, go on.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                continue;
            }
        };
        let ctx = ctx.load_full();
        let permits = take_permits(&shared.global.load(), &ctx.permits);
        let slot = shared.per_source.take(peer.ip());
        let (Some(permits), Some(slot)) = (permits, slot) else {
            shared
                .accounting
                .refuse(&ctx.config.name, EndReason::Overload);
            drop(stream);
            continue;
        };
        let shared = shared.clone();
        let alive = alive.clone();
        tokio::spawn(async move {
            // Closes the entry even if serving the connection panics.
            let open = shared.accounting.open_guarded(ctx.name.clone(), peer);
            let reason = tokio::select! {
                r = conn::serve(&shared, &ctx, stream, peer, open.live()) => r,
                _ = shared.kill.cancelled() => EndReason::Shutdown,
            };
            let finished = open.finish(reason);
            let tls = ctx.config.protocol == crate::config::Protocol::Tls;
            shared.log.record(super::log::Entry { finished, tls });
            let side = reason.side().map_or("none", |s| s.as_str());
            tracing::debug!(listener = %ctx.name, %peer, reason = reason.as_str(), failed = side, "connection ended");
            drop((permits, slot, alive));
        });
    }
}

fn take_permits(
    global: &Arc<Semaphore>,
    listener: &Arc<Semaphore>,
) -> Option<(
    tokio::sync::OwnedSemaphorePermit,
    tokio::sync::OwnedSemaphorePermit,
)> {
    let g = global.clone().try_acquire_owned().ok()?;
    let l = listener.clone().try_acquire_owned().ok()?;
    Some((g, l))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heartbeat_ages_until_it_beats_again() {
        let b = Beat::new();
        std::thread::sleep(std::time::Duration::from_millis(30));
        assert!(b.age() >= std::time::Duration::from_millis(30));
        b.beat();
        assert!(b.age() < std::time::Duration::from_millis(30));
    }

    /// conn.rs no longer sets TCP_NODELAY on each accepted socket: this
    /// is what makes that safe.
    #[tokio::test]
    async fn accepted_sockets_inherit_nodelay() {
        let any: SocketAddr = "127.0.0.1:0".parse().expect("addr");
        let listener = bind("t", any).expect("bound");
        let addr = listener.local_addr().expect("local addr");
        let client = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let (accepted, _) = listener.accept().await.expect("accept");
        assert!(accepted.nodelay().expect("nodelay"), "not inherited");
        assert!(!client.nodelay().expect("nodelay"), "client default is off");
    }
}
