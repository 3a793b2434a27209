//! A listening socket that can move while it serves: the admin port and the
//! metrics endpoint. [`Door::rebind`] binds the new address before the old
//! socket closes (a bind failure leaves the old one serving); connections
//! already open on the old socket finish there. Does I/O (sockets).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::AdminError;

/// What the accept loop is told.
enum Cmd {
    /// Serve this socket from now on (the old one is closed).
    Swap(TcpListener),
    /// Close the socket and answer; wait for a `Swap`.
    Release(oneshot::Sender<()>),
}

/// The handle on a running accept loop: where it listens, and how to move it.
pub struct Door {
    what: &'static str,
    addr: Mutex<SocketAddr>,
    tx: mpsc::UnboundedSender<Cmd>,
}

/// Binds `addr` with SO_REUSEADDR; `what` names the setting in errors
/// (`admin.listen`, `metrics.listen`).
pub fn bind(what: &str, addr: SocketAddr) -> Result<TcpListener, AdminError> {
    let fail = |source| AdminError::Bind {
        addr: format!("{addr} ({what})"),
        source,
    };
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(fail)?;
    socket.set_reuseaddr(true).map_err(fail)?;
    socket.bind(addr).map_err(fail)?;
    socket.listen(1024).map_err(fail)
}

impl Door {
    /// Serves `listener` in a task until `shutdown`: each accepted
    /// connection goes to `serve(stream, peer, stop)`, where `stop` fires
    /// at shutdown (connections should then finish gracefully).
    pub fn spawn<F, Fut>(
        what: &'static str,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
        serve: F,
    ) -> Result<(Door, tokio::task::JoinHandle<()>), AdminError>
    where
        F: Fn(TcpStream, SocketAddr, CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let addr = listener.local_addr().map_err(|e| AdminError::Bind {
            addr: what.to_string(),
            source: e,
        })?;
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(accept_loop(listener, rx, shutdown, serve));
        let door = Door {
            what,
            addr: Mutex::new(addr),
            tx,
        };
        Ok((door, task))
    }

    /// Where it listens now.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
            .lock()
            .map(|a| *a)
            .unwrap_or_else(|e| *e.into_inner())
    }

    /// Moves to `to` (no-op if already there). The new socket is bound
    /// before the old one closes; when that fails because the two overlap
    /// (same port, e.g. `127.0.0.1:8443` → `0.0.0.0:8443`), the old one is
    /// closed first and bound again if the new one still fails.
    pub async fn rebind(&self, to: SocketAddr) -> Result<SocketAddr, AdminError> {
        let from = self.local_addr();
        if from == to {
            return Ok(from);
        }
        let listener = match bind(self.what, to) {
            Ok(l) => l,
            Err(e) if from.port() == to.port() && in_use(&e) => {
                self.release().await;
                match bind(self.what, to) {
                    Ok(l) => l,
                    Err(e) => {
                        let back = bind(self.what, from)?;
                        self.swap(back, from);
                        return Err(e);
                    }
                }
            }
            Err(e) => return Err(e),
        };
        let now = listener.local_addr().unwrap_or(to);
        self.swap(listener, now);
        tracing::info!(what = self.what, %from, to = %now, "listening socket moved");
        Ok(now)
    }

    fn swap(&self, listener: TcpListener, addr: SocketAddr) {
        let _ = self.tx.send(Cmd::Swap(listener));
        if let Ok(mut a) = self.addr.lock() {
            *a = addr;
        }
    }

    async fn release(&self) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Cmd::Release(ack)).is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(2), done).await;
        }
    }
}

fn in_use(e: &AdminError) -> bool {
    matches!(e, AdminError::Bind { source, .. } if source.kind() == std::io::ErrorKind::AddrInUse)
}

async fn accept_loop<F, Fut>(
    listener: TcpListener,
    mut cmds: mpsc::UnboundedReceiver<Cmd>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    serve: F,
) where
    F: Fn(TcpStream, SocketAddr, CancellationToken) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let stop = CancellationToken::new();
    let mut listener = Some(listener);
    let mut open = true;
    tokio::pin!(shutdown);
    loop {
        let accept = async {
            match &listener {
                Some(l) => l.accept().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut shutdown => break,
            cmd = cmds.recv(), if open => match cmd {
                Some(Cmd::Swap(l)) => listener = Some(l),
                Some(Cmd::Release(ack)) => {
                    listener = None;
                    let _ = ack.send(());
                }
                None => open = false,
            },
            accepted = accept => match accepted {
                Ok((tcp, peer)) => {
                    tokio::spawn(serve(tcp, peer, stop.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    stop.cancel();
    drop(listener);
    tokio::time::sleep(Duration::from_millis(10)).await;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    async fn door() -> (Door, CancellationToken) {
        let l = bind("test", "127.0.0.1:0".parse().unwrap()).unwrap();
        let stop = CancellationToken::new();
        let (door, _) = Door::spawn(
            "test",
            l,
            stop.clone().cancelled_owned(),
            |mut s, _, _| async move {
                let _ = s.write_all(b"hi").await;
            },
        )
        .unwrap();
        (door, stop)
    }

    #[tokio::test]
    async fn moves_and_the_old_port_refuses() {
        let (door, stop) = door().await;
        let old = door.local_addr();
        assert!(TcpStream::connect(old).await.is_ok());
        let new = door.rebind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        assert_ne!(new.port(), old.port());
        assert!(TcpStream::connect(new).await.is_ok());
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            TcpStream::connect(old).await.is_err(),
            "old port still open"
        );
        stop.cancel();
    }

    #[tokio::test]
    async fn a_taken_port_fails_and_the_old_socket_serves() {
        let (door, stop) = door().await;
        let old = door.local_addr();
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let to = taken.local_addr().unwrap();
        let err = door.rebind(to).await.err().unwrap().to_string();
        assert!(
            err.contains(&to.to_string()) && err.contains("test"),
            "{err}"
        );
        assert_eq!(door.local_addr(), old);
        assert!(TcpStream::connect(old).await.is_ok());
        stop.cancel();
    }

    #[tokio::test]
    async fn an_overlapping_move_on_the_same_port_works() {
        let (door, stop) = door().await;
        let port = door.local_addr().port();
        let wide = SocketAddr::from(([0, 0, 0, 0], port));
        assert_eq!(door.rebind(wide).await.unwrap(), wide);
        assert!(TcpStream::connect(("127.0.0.1", port)).await.is_ok());
        stop.cancel();
    }
}
