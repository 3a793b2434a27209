//! The running admin port and metrics endpoint as a change sees them: move
//! their sockets, swap the admin certificate, start and stop `/metrics`,
//! all without a restart. Does I/O (sockets, certificate files).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::door::{self, Door};
use super::tls::{self, CertSwap, Loaded};
use super::{AdminError, TlsSource};
use crate::api::Control;

/// The admin port while it runs.
pub struct AdminLive {
    door: Door,
    certs: Arc<CertSwap>,
    state_dir: PathBuf,
}

impl AdminLive {
    pub(super) fn new(door: Door, certs: Arc<CertSwap>, state_dir: &Path) -> AdminLive {
        AdminLive {
            door,
            certs,
            state_dir: state_dir.to_path_buf(),
        }
    }

    /// Where the port listens now.
    pub fn local_addr(&self) -> SocketAddr {
        self.door.local_addr()
    }

    /// SHA-256 of the certificate new handshakes get, `AB:CD:...`.
    pub fn fingerprint(&self) -> String {
        self.certs.fingerprint()
    }

    /// Moves the port to `to`: bound before the old socket closes; on
    /// failure the old socket keeps serving. Sessions carry over.
    pub async fn rebind(&self, to: SocketAddr) -> Result<SocketAddr, AdminError> {
        self.door.rebind(to).await
    }

    /// Reads and checks the certificate of `source` without serving it.
    pub fn load_cert(&self, source: &TlsSource) -> Result<Loaded, AdminError> {
        tls::load(source, &self.state_dir)
    }

    /// Serves `loaded` to every new handshake; returns its fingerprint.
    pub fn use_cert(&self, loaded: Loaded) -> String {
        let fp = loaded.fingerprint.clone();
        self.certs.store(loaded);
        fp
    }
}

/// `/metrics` over plain HTTP while it runs; dropping it closes the socket.
pub struct MetricsDoor {
    door: Door,
    stop: CancellationToken,
}

impl MetricsDoor {
    /// Binds `listen` and serves `/metrics` until `parent` is cancelled or
    /// the door is dropped.
    pub fn start(
        listen: SocketAddr,
        control: Arc<dyn Control>,
        parent: &CancellationToken,
    ) -> Result<MetricsDoor, AdminError> {
        let listener = door::bind("metrics.listen", listen)?;
        let stop = parent.child_token();
        let app = super::metrics_app(control);
        let (door, _task) = Door::spawn(
            "metrics.listen",
            listener,
            stop.clone().cancelled_owned(),
            move |tcp, peer, stop| super::server::serve_http(tcp, peer, app.clone(), stop),
        )?;
        tracing::info!(addr = %door.local_addr(), "metrics listening (HTTP)");
        Ok(MetricsDoor { door, stop })
    }

    /// Where it listens now.
    pub fn local_addr(&self) -> SocketAddr {
        self.door.local_addr()
    }

    /// Moves it to `to` (see [`Door::rebind`]).
    pub async fn rebind(&self, to: SocketAddr) -> Result<SocketAddr, AdminError> {
        self.door.rebind(to).await
    }
}

impl Drop for MetricsDoor {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
