//! The connection log's remote collector: RFC 5424 frames over TCP, or TLS
//! (RFC 5425) where configured, from a bounded queue. A collector that is
//! down or slow never holds up the writer: the queue fills, further frames
//! are dropped and counted, and the task reconnects with backoff (1 s
//! doubling to 30 s). Does I/O.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

use crate::config::{Remote, RemoteTls};

/// Frames waiting for the collector.
const QUEUE: usize = 4096;
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Why the collector cannot be reached.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// TCP connect or TLS handshake.
    #[error("cannot reach the collector {addr}: {source}")]
    Connect {
        /// The collector.
        addr: std::net::SocketAddr,
        /// The OS or TLS error.
        source: std::io::Error,
    },
    /// The CA file.
    #[error("log.ca {path}: {why}")]
    Ca {
        /// The file.
        path: String,
        /// What is wrong with it.
        why: String,
    },
}

/// The writer's side: frames go in without waiting.
pub struct Frames {
    tx: mpsc::Sender<Vec<u8>>,
    config: watch::Receiver<Option<Remote>>,
    dropped: Arc<AtomicU64>,
}

impl Frames {
    /// True when a collector is configured (frames are worth making).
    pub fn wanted(&self) -> bool {
        self.config.borrow().is_some()
    }
    /// Queues a frame; a full queue drops it and counts it.
    pub fn send(&self, frame: Vec<u8>) {
        if self.tx.try_send(frame).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Starts the collector task (inside a tokio runtime).
pub fn spawn(config: watch::Receiver<Option<Remote>>, dropped: Arc<AtomicU64>) -> Frames {
    let (tx, rx) = mpsc::channel(QUEUE);
    tokio::spawn(run(config.clone(), rx));
    Frames {
        tx,
        config,
        dropped,
    }
}

type Stream = Box<dyn AsyncWrite + Unpin + Send>;

async fn run(mut config: watch::Receiver<Option<Remote>>, mut rx: mpsc::Receiver<Vec<u8>>) {
    let mut pending: Option<Vec<u8>> = None;
    let mut backoff = BACKOFF_MIN;
    loop {
        let Some(remote) = config.borrow_and_update().clone() else {
            pending = None;
            tokio::select! {
                r = config.changed() => if r.is_err() { return },
                f = rx.recv() => if f.is_none() { return },
            }
            continue;
        };
        match connect(&remote).await {
            Ok(mut stream) => {
                backoff = BACKOFF_MIN;
                tracing::info!(collector = %remote.addr, "connection log: collector connected");
                match send(&mut stream, &mut rx, &mut config, &mut pending).await {
                    Ended::Closed => return,
                    Ended::Reconfigured => continue,
                    Ended::Failed => {}
                }
            }
            Err(e) => tracing::warn!(error = %e, "connection log: collector unreachable"),
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            r = config.changed() => if r.is_err() { return },
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

enum Ended {
    Closed,
    Reconfigured,
    Failed,
}

/// Writes frames until the stream fails, the config changes or the log closes.
async fn send(
    stream: &mut Stream,
    rx: &mut mpsc::Receiver<Vec<u8>>,
    config: &mut watch::Receiver<Option<Remote>>,
    pending: &mut Option<Vec<u8>>,
) -> Ended {
    loop {
        let frame = match pending.take() {
            Some(f) => f,
            None => tokio::select! {
                f = rx.recv() => match f { Some(f) => f, None => return Ended::Closed },
                r = config.changed() => return if r.is_err() { Ended::Closed } else { Ended::Reconfigured },
            },
        };
        let written = async {
            stream.write_all(&frame).await?;
            stream.flush().await
        };
        if let Err(e) = written.await {
            tracing::warn!(error = %e, "connection log: collector write failed");
            *pending = Some(frame);
            return Ended::Failed;
        }
    }
}

async fn connect(remote: &Remote) -> Result<Stream, RemoteError> {
    let fail = |source| RemoteError::Connect {
        addr: remote.addr,
        source,
    };
    let tcp = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(remote.addr))
        .await
        .map_err(|_| fail(std::io::ErrorKind::TimedOut.into()))?
        .map_err(fail)?;
    let _ = tcp.set_nodelay(true);
    let Some(tls) = &remote.tls else {
        return Ok(Box::new(tcp));
    };
    let connector = connector(tls)?;
    let name = rustls::pki_types::ServerName::try_from(tls.server_name.clone())
        .map_err(|e| fail(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)))?;
    let stream = connector.connect(name, tcp).await.map_err(fail)?;
    Ok(Box::new(stream))
}

fn connector(tls: &RemoteTls) -> Result<tokio_rustls::TlsConnector, RemoteError> {
    let ca_err = |why: String| RemoteError::Ca {
        path: tls.ca.display().to_string(),
        why,
    };
    let pem = std::fs::read(&tls.ca).map_err(|e| ca_err(e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        let cert = cert.map_err(|e| ca_err(e.to_string()))?;
        roots.add(cert).map_err(|e| ca_err(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(ca_err("holds no PEM certificate".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ca_err(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}
