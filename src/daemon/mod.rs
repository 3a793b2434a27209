//! The daemon (`parvis serve`): finds its first config (the file, else the
//! OpenStack user data, else a safe default), restores the last complete
//! config version through the change manager, then serves the forwarder,
//! the admin UI, the control socket and metrics until SIGTERM/SIGINT.
//! SIGHUP re-reads the file as a change. Does I/O.
//!
//! The nftables table is left in the kernel on exit, so in-kernel forwards
//! keep working while the daemon restarts.

mod adapt;
mod control;
mod doors;
mod engine;
mod ha;
mod kernel;
mod nft;
mod notify;
mod pair;
mod series;
mod sessions;
mod skeleton;
mod start;
mod watchdog;

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::change::{Changer, Steps};
use crate::config::ConfigError;
use crate::store::Store;

pub use control::Daemon;
pub use engine::engine;
pub use kernel::Kernel;
pub use nft::{Firewall, Nft};

/// How long open connections may drain at shutdown.
pub const DRAIN: Duration = Duration::from_secs(10);

/// What `parvis serve` was given (its command-line options).
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// The config file (TOML); missing: the OpenStack user data, else a safe default.
    #[arg(long)]
    pub config: PathBuf,
    /// The control socket for the CLI.
    #[arg(long, default_value = crate::control::DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Read OpenStack metadata from this config-drive-like folder.
    #[arg(long)]
    pub metadata: Option<PathBuf>,
    /// State folder; overrides the config's `appliance.state_dir` (two nodes
    /// of a pair on one host; default: the config's, else /var/lib/parvis).
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
}

/// Why the daemon could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The config file is invalid.
    #[error("{path}: {source}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: ConfigError,
    },
    /// The OpenStack metadata could not be read.
    #[error(transparent)]
    Metadata(#[from] crate::net::metadata::MetadataError),
    /// The config store could not be opened.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Not even the safe default could be put in place.
    #[error("cannot start: {0}")]
    Start(String),
    /// The control socket could not be bound.
    #[error(transparent)]
    Control(#[from] crate::control::ControlError),
    /// Signal handlers could not be installed.
    #[error("signals: {0}")]
    Signal(std::io::Error),
}

impl DaemonError {
    /// True for bad input (exit code 2) rather than a runtime failure.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, DaemonError::Config { .. })
    }
}

/// Runs the daemon until SIGTERM/SIGINT or `shutdown` resolves, then drains.
pub async fn run(opts: Options, shutdown: impl Future<Output = ()>) -> Result<(), DaemonError> {
    let mut term = signal(SignalKind::terminate()).map_err(DaemonError::Signal)?;
    let mut int = signal(SignalKind::interrupt()).map_err(DaemonError::Signal)?;
    let mut hup = signal(SignalKind::hangup()).map_err(DaemonError::Signal)?;
    let first = start::first(&opts).await?;
    if let Err(e) = crate::firewall::sysctls() {
        tracing::warn!(error = %e, "sysctls");
    }
    let state_dir = opts
        .state_dir
        .clone()
        .unwrap_or_else(|| first.config.appliance.state_dir.clone());
    let store = Store::open(&state_dir)?;
    let kernel = Arc::new(Kernel::new(first.metadata.clone()));
    let changer = Changer::new(store, kernel.clone());
    let change_events = changer.subscribe();
    let peers = |cfg: &crate::config::Config| sessions::peers(&sessions::guarded_ports(cfg));
    let started = changer
        .startup_guarding(first.text.as_deref(), &peers)
        .await;
    match &started {
        Err(crate::change::ChangeError::LockOut { reason }) => tracing::error!(
            "the config file was not applied: {reason}; the restored version stays in force \
             (close that connection, or apply the file with `parvis apply --force`)"
        ),
        Err(e) => {
            tracing::error!(error = %e, "the stored or given config could not be put in place")
        }
        Ok(_) => {}
    }
    let (cfg, text, safe_reason) = match changer.running().await {
        Some((v, cfg)) => {
            let text = changer.store().get(v).map(|(_, t)| t).unwrap_or_default();
            (cfg, text, None)
        }
        None => {
            let safe = Arc::new(first.safe_default());
            let why = first
                .reason
                .clone()
                .or_else(|| started.err().map(|e| format!("the config could not be applied: {e}; it is tried again at the next start or SIGHUP")))
                .unwrap_or_else(|| "no config version could be applied".into());
            tracing::warn!(reason = %why, "running the safe default: inbound closed except SSH and the admin port from admin.allow");
            for step in [kernel.apply_firewall(&safe), kernel.apply_forwarder(&safe)] {
                step.await.map_err(|e| DaemonError::Start(e.to_string()))?;
            }
            (safe, String::new(), Some(why))
        }
    };
    let token = CancellationToken::new();
    // The VRRP supervision sends this node's role here; "unknown" until then.
    let (ha_role, role_rx) = watch::channel("unknown".to_string());
    let (daemon, feeds) = Daemon::new(changer.clone(), kernel.clone(), cfg.clone(), text);
    let mut daemon = daemon;
    match start_sync(&cfg, &changer, role_rx, &token) {
        Ok(link) => daemon.sync = link,
        Err(e) => daemon.sync_error = Some(e),
    }
    daemon.ha_role = ha_role;
    daemon.safe_reason = Mutex::new(safe_reason);
    let daemon = Arc::new(daemon);
    let links_tx = engine::spawn_tasks(&daemon, feeds, change_events, &token);
    tokio::spawn(start::watch_links(kernel.clone(), links_tx, token.clone()));
    let mut doors = (*cfg).clone();
    doors.appliance.state_dir = state_dir.clone();
    start::operator_doors(&doors, &opts, daemon.clone(), &token).await?;
    // [ha] is read from the config in force at start; a change of [ha]
    // takes a restart of the daemon.
    let pair = ha::start(&cfg, &state_dir, &daemon).await;
    if let Some(p) = &pair {
        let _ = daemon.ha.set(p.clone());
    }
    tokio::spawn(ha::health_loop(daemon.clone(), pair.clone(), token.clone()));
    tokio::spawn(watchdog::run(daemon.clone(), token.clone()));
    notify::notify("READY=1");
    daemon.log(
        "start",
        format!("parvis {} ready", env!("CARGO_PKG_VERSION")),
    );
    tracing::info!(name = %cfg.appliance.name, listeners = cfg.listeners.len(), "ready");
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => reload(&changer, &opts, &daemon).await,
        }
    }
    notify::notify("STOPPING=1");
    if let Some(p) = pair {
        // keepalived first: it hands the VIPs over (priority 0) before the
        // forwarder stops accepting.
        let _ = tokio::task::spawn_blocking(move || p.stop()).await;
    }
    tracing::info!(drain = ?DRAIN, "shutting down; the nftables table stays in force");
    token.cancel();
    if let Some(f) = kernel.take_forwarder() {
        match Arc::try_unwrap(f) {
            Ok(f) => f.shutdown(DRAIN).await,
            Err(_) => tracing::warn!("forwarder still referenced; closing without drain"),
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// With `[ha]`: the config sync with the peer, connected to the change engine.
/// The error is kept for the status warnings.
fn start_sync(
    cfg: &crate::config::Config,
    changer: &Changer,
    role: watch::Receiver<String>,
    token: &CancellationToken,
) -> Result<Option<Arc<crate::sync::Link>>, String> {
    let Some(ha) = cfg.ha.as_ref() else {
        return Ok(None);
    };
    match crate::sync::start(ha, changer.clone(), role, token.clone()) {
        Ok(link) => {
            changer.set_replication(link.clone());
            Ok(Some(link))
        }
        Err(e) => {
            tracing::error!(error = %e, "config sync not started: this node runs alone");
            Err(format!(
                "ha: config sync not started ({e}): this node runs alone"
            ))
        }
    }
}

/// SIGHUP: the file as a change, author `sighup`, refused if it would cut
/// off the peer of an established admin or SSH connection.
async fn reload(changer: &Changer, opts: &Options, daemon: &Daemon) {
    let ports = match changer.running().await {
        Some((_, cfg)) => sessions::guarded_ports(&cfg),
        None => Vec::new(),
    };
    let peers = tokio::task::spawn_blocking(move || sessions::peers(&ports))
        .await
        .unwrap_or_default();
    match changer.reload_file(&opts.config, peers).await {
        Ok(out) => {
            if matches!(out, crate::change::ApplyOutcome::Unchanged { .. }) {
                daemon.refresh_cert().await;
            }
            tracing::info!(
                version = adapt::outcome(&out, std::time::SystemTime::now()).version,
                "reloaded"
            )
        }
        Err(crate::change::ChangeError::LockOut { reason }) => {
            let why = format!(
                "SIGHUP reload refused: {reason}; close that connection, or apply the file with \
                 `parvis apply --force` (it then rolls back unless confirmed)"
            );
            tracing::error!("{why}");
            daemon.log("refused", why);
        }
        Err(e) => {
            tracing::error!(error = %e, "reload refused, keeping the running config");
            daemon.log("refused", format!("SIGHUP reload refused: {e}"));
        }
    }
}
