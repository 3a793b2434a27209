//! One HTTPS connection of the admin port (the accept loop is
//! [`super::door`]'s): TLS handshake (bounded in time, off the accept
//! path), HTTP/1.1 with hyper, the peer address handed to axum as
//! `ConnectInfo`, graceful stop on shutdown. Does I/O (sockets).

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// One admin connection: the TLS handshake (bounded in time), then
/// HTTP/1.1; when `stop` fires, the connection finishes gracefully (bounded).
pub(super) async fn serve_conn(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    app: axum::Router,
    stop: CancellationToken,
) {
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "admin TLS handshake failed");
            return;
        }
        Err(_) => return,
    };
    serve_http(tls, peer, app, stop).await;
}

/// HTTP/1.1 on `io` (TLS or plain, e.g. `/metrics`) until it ends or
/// `stop` fires (then gracefully, bounded).
pub(super) async fn serve_http<IO>(
    io: IO,
    peer: SocketAddr,
    app: axum::Router,
    stop: CancellationToken,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(req)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let conn = builder.serve_connection(TokioIo::new(io), svc);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
            }
        }
        _ = stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(DRAIN_TIMEOUT, conn).await;
        }
    }
}
