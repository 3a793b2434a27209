//! The operator's doors under change: the admin port (its address and
//! certificate) and `/metrics`. Opened at start; afterwards the change
//! engine's listeners step ([`super::Kernel`]) brings them to each config
//! it applies, without a restart: a new socket is bound before the old one
//! closes, a certificate is read and checked before it is served, and a
//! failure fails the step (the engine then puts the previous config back,
//! which is a no-op for a door that did not move). Does I/O.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::admin::{self, AdminLive, AdminOptions, MetricsDoor, TlsSource};
use crate::api::Control;
use crate::change::StepError;
use crate::config::Config;

/// What was last asked of the doors, and the running doors.
struct State {
    admin: Option<Arc<AdminLive>>,
    /// `admin.listen` last asked (the port may have failed to open at start).
    admin_listen: SocketAddr,
    tls: TlsSource,
    metrics: Option<MetricsDoor>,
    /// `metrics.listen` last asked.
    metrics_listen: Option<SocketAddr>,
}

/// The admin port and `/metrics` of the daemon.
pub struct Doors {
    state: Mutex<State>,
    control: Arc<dyn Control>,
    state_dir: PathBuf,
    token: CancellationToken,
}

/// A door that could not open at start, for the log.
pub struct Opened {
    /// The admin port, or why it is closed.
    pub admin: Result<admin::AdminHandle, admin::AdminError>,
    /// Why `/metrics` is not served, if it is asked for and is not.
    pub metrics_error: Option<admin::AdminError>,
}

impl Doors {
    /// Opens the admin port and `/metrics` as `cfg` asks; a door that does
    /// not open is reported, not fatal (forwarding goes on).
    pub async fn open(
        cfg: &Config,
        control: Arc<dyn Control>,
        token: &CancellationToken,
    ) -> (Doors, Opened) {
        let tls = TlsSource::from_config(&cfg.admin.tls);
        let state_dir = cfg.appliance.state_dir.clone();
        let admin = start_admin(cfg.admin.listen, &tls, &state_dir, &control, token).await;
        let listen = cfg.metrics.as_ref().map(|m| m.listen);
        let (metrics, metrics_error) = match listen {
            Some(l) => match MetricsDoor::start(l, control.clone(), token) {
                Ok(d) => (Some(d), None),
                Err(e) => (None, Some(e)),
            },
            None => (None, None),
        };
        let state = State {
            admin: admin.as_ref().ok().map(|h| h.live.clone()),
            admin_listen: cfg.admin.listen,
            tls,
            metrics,
            metrics_listen: listen,
        };
        let doors = Doors {
            state: Mutex::new(state),
            control,
            state_dir,
            token: token.clone(),
        };
        let opened = Opened {
            admin,
            metrics_error,
        };
        (doors, opened)
    }

    /// Brings the doors to `cfg`: the admin port's address, its
    /// certificate (re-read even when the files' names did not change, so
    /// a renewed certificate is served), and `/metrics`.
    pub async fn apply(&self, cfg: &Config) -> Result<(), StepError> {
        let mut st = self.state.lock().await;
        self.admin_listen(&mut st, cfg.admin.listen).await?;
        cert(&mut st, TlsSource::from_config(&cfg.admin.tls))?;
        self.metrics(&mut st, cfg.metrics.as_ref().map(|m| m.listen))
            .await
    }

    /// Re-reads the admin certificate files in force; `Some(fingerprint)`
    /// when a different certificate is now served. A file that cannot be
    /// read leaves the old certificate in service (logged).
    pub async fn refresh_cert(&self) -> Option<String> {
        let mut st = self.state.lock().await;
        let source = st.tls.clone();
        let before = st.admin.as_ref().map(|a| a.fingerprint());
        let _ = cert(&mut st, source);
        let after = st.admin.as_ref().map(|a| a.fingerprint());
        after.filter(|a| Some(a) != before.as_ref())
    }

    async fn admin_listen(&self, st: &mut State, to: SocketAddr) -> Result<(), StepError> {
        match &st.admin {
            Some(a) => {
                a.rebind(to)
                    .await
                    .map_err(|e| StepError::new(e.to_string()))?;
            }
            None if st.admin_listen != to => {
                let h = start_admin(to, &st.tls, &self.state_dir, &self.control, &self.token)
                    .await
                    .map_err(|e| StepError::new(format!("admin UI not started: {e}")))?;
                st.admin = Some(h.live);
            }
            None => {}
        }
        st.admin_listen = to;
        Ok(())
    }

    async fn metrics(&self, st: &mut State, to: Option<SocketAddr>) -> Result<(), StepError> {
        if st.metrics_listen == to {
            return Ok(());
        }
        let fail = |e: admin::AdminError| StepError::new(e.to_string());
        match (st.metrics.as_ref(), to) {
            (Some(d), Some(addr)) => {
                d.rebind(addr).await.map_err(fail)?;
            }
            (None, Some(addr)) => {
                let d =
                    MetricsDoor::start(addr, self.control.clone(), &self.token).map_err(fail)?;
                st.metrics = Some(d);
            }
            (_, None) => st.metrics = None,
        }
        st.metrics_listen = to;
        Ok(())
    }
}

/// Serves `source`'s certificate. A new source that cannot be read fails;
/// the same source re-read and unreadable keeps the old certificate.
fn cert(st: &mut State, source: TlsSource) -> Result<(), StepError> {
    let Some(admin) = st.admin.clone() else {
        st.tls = source;
        return Ok(());
    };
    match admin.load_cert(&source) {
        Ok(loaded) => {
            if loaded.fingerprint != admin.fingerprint() {
                let fp = admin.use_cert(loaded);
                tracing::info!(fingerprint = %fp, "admin certificate replaced");
            }
            st.tls = source;
            Ok(())
        }
        Err(e) if source == st.tls => {
            tracing::error!(error = %e, "admin certificate not reloaded; the old one stays in service");
            Ok(())
        }
        Err(e) => Err(StepError::new(format!("admin certificate: {e}"))),
    }
}

async fn start_admin(
    listen: SocketAddr,
    tls: &TlsSource,
    state_dir: &std::path::Path,
    control: &Arc<dyn Control>,
    token: &CancellationToken,
) -> Result<admin::AdminHandle, admin::AdminError> {
    admin::start(
        listen,
        tls.clone(),
        state_dir,
        control.clone(),
        AdminOptions::default(),
        token.clone().cancelled_owned(),
    )
    .await
}
