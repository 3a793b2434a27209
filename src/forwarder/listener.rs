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
/// shutdown can wait for them.
pub async fn accept_loop(
    listener: TcpListener,
    ctx: Arc<ArcSwap<ListenerCtx>>,
    shared: Arc<Shared>,
    stop: CancellationToken,
    alive: mpsc::Sender<()>,
) {
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => return,
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
