//! The demo ingress's listeners and per-connection handling.
//!
//! Does I/O: binds sockets, terminates TLS, answers HTTP. A failing
//! connection is logged and closed; it never stops the server.

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;

use super::header::{self, HeaderError, ProxyInfo};
use super::http::{self, Action, HttpError, Seen};
use super::prefixed::Prefixed;
use super::{DemoError, Options, ProxyMode, READY_LINE};

/// How long a client has for its PROXY header, TLS handshake and request head.
const HANDSHAKE: Duration = Duration::from_secs(10);
/// Chunk size for `/stream` bodies.
const CHUNK: usize = 64 * 1024;

/// Why one connection ended badly (logged, never fatal).
#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error("{0}")]
    Header(#[from] HeaderError),
    #[error("{0}")]
    Http(#[from] HttpError),
    #[error("TLS handshake: {0}")]
    Handshake(std::io::Error),
    #[error("writing the response: {0}")]
    Write(std::io::Error),
    #[error("client too slow")]
    Timeout,
}

struct Shared {
    name: String,
    proxy: ProxyMode,
}

/// Runs the demo ingress until `shutdown` completes. Prints
/// [`READY_LINE`] on stdout once every listener is bound.
pub async fn serve(opts: Options, shutdown: impl Future<Output = ()>) -> Result<(), DemoError> {
    if opts.tls.is_none() && opts.http.is_none() {
        return Err(DemoError::NoListener);
    }
    let tls = match opts.tls {
        Some(addr) => Some((bind(addr).await?, acceptor(&opts.hosts)?)),
        None => None,
    };
    let plain = match opts.http {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "{READY_LINE}")
        .and_then(|()| out.flush())
        .map_err(DemoError::Stdout)?;
    drop(out);
    tracing::info!(name = %opts.name, tls = ?opts.tls, http = ?opts.http, proxy = %opts.proxy, "demo ingress ready");
    let shared = Arc::new(Shared {
        name: opts.name,
        proxy: opts.proxy,
    });
    let tls_loop = async {
        if let Some((listener, acceptor)) = tls {
            accept_loop(listener, Some(acceptor), Arc::clone(&shared)).await;
        }
    };
    let plain_loop = async {
        if let Some(listener) = plain {
            accept_loop(listener, None, Arc::clone(&shared)).await;
        }
    };
    tokio::select! {
        () = shutdown => {}
        _ = futures::future::join(tls_loop, plain_loop) => {}
    }
    Ok(())
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, DemoError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| DemoError::Bind { addr, source })
}

/// A TLS acceptor with a fresh self-signed certificate for `hosts` + localhost.
fn acceptor(hosts: &[String]) -> Result<TlsAcceptor, DemoError> {
    let mut names = hosts.to_vec();
    if !names.iter().any(|h| h == "localhost") {
        names.push("localhost".into());
    }
    let certified = rcgen::generate_simple_self_signed(names)?;
    let cert = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

async fn accept_loop(listener: TcpListener, tls: Option<TlsAcceptor>, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let tls = tls.clone();
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    match handle(stream, peer, tls, &shared).await {
                        Ok(()) => {}
                        // A refused PROXY header is worth seeing; the rest
                        // (probes, clients going away) is noise.
                        Err(err @ ConnError::Header(_)) => {
                            tracing::info!(%peer, %err, "connection refused");
                        }
                        Err(err) => tracing::debug!(%peer, %err, "connection closed"),
                    }
                });
            }
            Err(err) => {
                // Out of file descriptors and the like: back off, keep serving.
                tracing::warn!(%err, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn handle(
    mut stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    shared: &Shared,
) -> Result<(), ConnError> {
    let (info, replay) = timeout(HANDSHAKE, header::read(&mut stream, shared.proxy))
        .await
        .map_err(|_| ConnError::Timeout)??;
    let stream = Prefixed::new(replay, stream);
    match tls {
        Some(acceptor) => {
            let tls_stream = timeout(HANDSHAKE, acceptor.accept(stream))
                .await
                .map_err(|_| ConnError::Timeout)?
                .map_err(ConnError::Handshake)?;
            let sni = tls_stream.get_ref().1.server_name().map(str::to_owned);
            respond(tls_stream, peer, info, sni.as_deref(), shared).await
        }
        None => respond(stream, peer, info, None, shared).await,
    }
}

async fn respond<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    peer: SocketAddr,
    info: Option<ProxyInfo>,
    sni: Option<&str>,
    shared: &Shared,
) -> Result<(), ConnError> {
    let head = timeout(HANDSHAKE, http::read_head(&mut s))
        .await
        .map_err(|_| ConnError::Timeout)??;
    let request = match http::parse_request(&head) {
        Ok(r) => r,
        Err(err) => {
            let _ = s.write_all(http::BAD_REQUEST).await;
            let _ = s.shutdown().await;
            return Err(err.into());
        }
    };
    let seen = Seen {
        ingress: &shared.name,
        client: info.as_ref().and_then(|i| i.source).unwrap_or(peer),
        proxy: info.as_ref().map(|i| i.version),
        sni,
        authority: info.as_ref().and_then(|i| i.authority.as_deref()),
        host: request.host.as_deref(),
    };
    match http::action(&request.target) {
        Action::Info => write_info(&mut s, &seen).await?,
        Action::Hold(d) => {
            tokio::time::sleep(d).await;
            write_info(&mut s, &seen).await?;
        }
        Action::Stream(n) => write_stream(&mut s, n).await?,
    }
    s.shutdown().await.map_err(ConnError::Write)
}

async fn write_info<S: AsyncWrite + Unpin>(s: &mut S, seen: &Seen<'_>) -> Result<(), ConnError> {
    let body = http::info_body(seen);
    let len = u64::try_from(body.len()).unwrap_or(u64::MAX);
    let mut out = http::response_head(len).into_bytes();
    out.extend_from_slice(body.as_bytes());
    s.write_all(&out).await.map_err(ConnError::Write)
}

async fn write_stream<S: AsyncWrite + Unpin>(s: &mut S, n: u64) -> Result<(), ConnError> {
    s.write_all(http::response_head(n).as_bytes())
        .await
        .map_err(ConnError::Write)?;
    let chunk = vec![b'x'; CHUNK];
    let mut left = n;
    while left > 0 {
        let take = usize::try_from(left).map_or(CHUNK, |l| l.min(CHUNK));
        s.write_all(&chunk[..take])
            .await
            .map_err(ConnError::Write)?;
        left -= take as u64;
    }
    Ok(())
}
