//! The sync channel's transport: mutual TLS 1.3 with the pinned pair
//! certificate over TCP, one request and one answer per connection. The
//! server accepts only the peer's address, then only the pinned
//! certificate, and reads nothing before the handshake is complete.
//! Does I/O (sockets).

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tokio_util::sync::CancellationToken;

use super::key::CERT_NAME;
use super::wire::{self, Request, Response};
use super::SyncError;

/// Longest wait for the peer's TCP handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(800);
/// Longest a server waits for a client to finish its request.
const SERVE_TIMEOUT: Duration = Duration::from_secs(10);

/// The client side: where the peer listens and how to talk to it.
#[derive(Clone)]
pub struct Client {
    peer: SocketAddr,
    local: Option<IpAddr>,
    connector: TlsConnector,
}

impl Client {
    /// A client for `peer`, connecting from `local` (this node's address,
    /// so the peer's source filter sees it) when given.
    pub fn new(peer: SocketAddr, local: Option<IpAddr>, tls: Arc<rustls::ClientConfig>) -> Client {
        Client {
            peer,
            local,
            connector: TlsConnector::from(tls),
        }
    }

    /// The peer's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Sends `req` and waits (at most `within`, handshake included) for the answer.
    pub async fn ask(&self, req: &Request, within: Duration) -> Result<Response, SyncError> {
        tokio::time::timeout(within, self.exchange(req))
            .await
            .map_err(|_| SyncError::Timeout(self.peer))?
    }

    async fn exchange(&self, req: &Request) -> Result<Response, SyncError> {
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, self.connect())
            .await
            .map_err(|_| SyncError::Timeout(self.peer))?
            .map_err(SyncError::Io)?;
        let _ = tcp.set_nodelay(true);
        let name =
            ServerName::try_from(CERT_NAME).map_err(|e| SyncError::Protocol(e.to_string()))?;
        let mut tls = self
            .connector
            .connect(name, tcp)
            .await
            .map_err(|e| SyncError::Handshake(e.to_string()))?;
        wire::write(&mut tls, req).await?;
        wire::read(&mut tls).await
    }

    async fn connect(&self) -> std::io::Result<TcpStream> {
        let socket = match self.peer {
            SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
            SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
        };
        if let Some(local) = self.local {
            socket.bind(SocketAddr::new(local, 0))?;
        }
        socket.connect(self.peer).await
    }
}

/// Answers requests; what the server calls for each authenticated one.
pub trait Handler: Send + Sync + 'static {
    /// The answer to `req`.
    fn handle(&self, req: Request) -> impl Future<Output = Response> + Send;
}

/// Accepts connections on `listener` until `token` is cancelled: only from
/// `peer`, only with the pinned certificate; each gets one answer.
pub async fn serve<H: Handler>(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    peer: IpAddr,
    handler: Arc<H>,
    token: CancellationToken,
) {
    let acceptor = TlsAcceptor::from(tls);
    loop {
        let (tcp, from) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "sync: accept");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = token.cancelled() => return,
        };
        if crate::config::canonical_ip(from.ip()) != peer {
            tracing::warn!(%from, "sync: connection from an address that is not the peer, closed");
            continue;
        }
        let acceptor = acceptor.clone();
        let handler = handler.clone();
        tokio::spawn(async move {
            let one = answer(acceptor, tcp, handler);
            match tokio::time::timeout(SERVE_TIMEOUT, one).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(%from, error = %e, "sync: connection refused or failed")
                }
                Err(_) => tracing::warn!(%from, "sync: connection timed out"),
            }
        });
    }
}

async fn answer<H: Handler>(
    acceptor: TlsAcceptor,
    tcp: TcpStream,
    handler: Arc<H>,
) -> Result<(), SyncError> {
    let _ = tcp.set_nodelay(true);
    let mut tls = acceptor
        .accept(tcp)
        .await
        .map_err(|e| SyncError::Handshake(e.to_string()))?;
    let req: Request = wire::read(&mut tls).await?;
    let resp = handler.handle(req).await;
    wire::write(&mut tls, &resp).await?;
    let _ = tokio::io::AsyncWriteExt::shutdown(&mut tls).await;
    Ok(())
}

#[cfg(test)]
#[path = "channel_tests.rs"]
mod tests;
