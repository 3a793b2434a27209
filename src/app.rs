//! The daemon (`parvis serve`): loads the config, starts the forwarder,
//! reloads on SIGHUP, drains on SIGTERM/SIGINT or when `shutdown` resolves.
//! Does I/O. The firewall, admin UI and control socket plug in here.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};

use crate::config::{self, ConfigError};
use crate::forwarder::{Forwarder, ForwarderError};

/// How long open connections may drain at shutdown.
pub const DRAIN: Duration = Duration::from_secs(10);

/// Why the daemon stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The config file is invalid.
    #[error("{path}: {source}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: ConfigError,
    },
    /// The forwarder could not start.
    #[error(transparent)]
    Forwarder(#[from] ForwarderError),
    /// Signal handlers could not be installed.
    #[error("signals: {0}")]
    Signal(std::io::Error),
}

impl AppError {
    /// True for bad input (exit code 2) rather than a runtime failure.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, AppError::Config { .. })
    }
}

fn load(path: &Path) -> Result<config::Config, AppError> {
    config::load(path).map_err(|source| AppError::Config {
        path: path.to_path_buf(),
        source,
    })
}

/// Runs the daemon until SIGTERM/SIGINT or `shutdown` resolves, then drains.
pub async fn run(config_path: &Path, shutdown: impl Future<Output = ()>) -> Result<(), AppError> {
    let config = load(config_path)?;
    let forwarder = Forwarder::start(&config)?;
    let mut hup = signal(SignalKind::hangup()).map_err(AppError::Signal)?;
    let mut term = signal(SignalKind::terminate()).map_err(AppError::Signal)?;
    let mut int = signal(SignalKind::interrupt()).map_err(AppError::Signal)?;
    tracing::info!(
        name = config.appliance.name,
        listeners = config.listeners.len(),
        "ready"
    );
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => reload(config_path, &forwarder),
        }
    }
    tracing::info!(drain = ?DRAIN, "shutting down");
    forwarder.shutdown(DRAIN).await;
    tracing::info!("stopped");
    Ok(())
}

/// Re-reads the file; a bad config is logged and the running one kept.
fn reload(path: &Path, forwarder: &Forwarder) {
    match load(path)
        .map_err(|e| e.to_string())
        .and_then(|c| forwarder.reload(&c).map_err(|e| e.to_string()))
    {
        Ok(()) => tracing::info!("reloaded"),
        Err(e) => tracing::error!(error = %e, "reload refused, keeping the running config"),
    }
}
