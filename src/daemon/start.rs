//! The daemon's start-up pieces: where the first config comes from, and the
//! background tasks (change log, link watch, chart samples, the
//! admin port, the control socket and metrics). Does I/O.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use super::adapt;
use super::{Daemon, DaemonError, Kernel, Options};
use crate::api::Control;
use crate::change::Event;
use crate::config::{self, Config};
use crate::net::{self, metadata::Metadata, LinkState};

/// What the daemon starts from.
pub struct First {
    /// The config to take `state_dir` and the admin port from.
    pub config: Config,
    /// TOML text to hand the change manager (`None`: nothing to apply).
    pub text: Option<String>,
    /// The OpenStack metadata, if any was read.
    pub metadata: Option<Metadata>,
    /// Why the safe default would run, if the text is missing.
    pub reason: Option<String>,
}

impl First {
    /// Inbound closed except SSH: no listener, no forward, SSH open to
    /// every source (keys only, the image's sshd allows no password) and
    /// the admin UI on loopback, reached through an SSH tunnel
    /// (`ssh -L 8443:127.0.0.1:8443`), until an operator applies a config.
    pub fn safe_default(&self) -> Config {
        let mut safe = net::metadata::safe_default(self.metadata.as_ref());
        safe.appliance.state_dir = self.config.appliance.state_dir.clone();
        safe.admin = self.config.admin.clone();
        safe.admin.listen = std::net::SocketAddr::from(([127, 0, 0, 1], safe.admin.listen.port()));
        safe.admin.allow = ["0.0.0.0/0", "::/0"]
            .iter()
            .filter_map(|c| c.parse().ok())
            .collect();
        safe
    }
}

/// The config file if it exists (invalid: exit 2); else the OpenStack
/// metadata's user data; else the safe default.
pub async fn first(opts: &Options) -> Result<First, DaemonError> {
    // A folder that cannot be read (no config drive was found at first
    // boot) is not fatal: the file, or the safe default, still applies.
    let metadata = match &opts.metadata {
        Some(dir) => match net::metadata::discover(Some(dir)).await {
            Ok((m, _)) => Some(m),
            Err(e) => {
                tracing::warn!(error = %e, "no OpenStack metadata");
                None
            }
        },
        None => None,
    };
    match std::fs::read_to_string(&opts.config) {
        Ok(text) => {
            let mut config = config::parse(&text).map_err(|source| DaemonError::Config {
                path: opts.config.clone(),
                source,
            })?;
            if let Some(dir) = &opts.state_dir {
                config.appliance.state_dir = dir.clone();
            }
            Ok(First {
                config,
                text: Some(text),
                metadata,
                reason: None,
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut first = from_metadata(&opts.config, metadata).await?;
            if let Some(dir) = &opts.state_dir {
                first.config.appliance.state_dir = dir.clone();
            }
            Ok(first)
        }
        Err(e) => Err(DaemonError::Config {
            path: opts.config.clone(),
            source: config::ConfigError::one(
                "",
                format!("cannot read {}: {e}", opts.config.display()),
            ),
        }),
    }
}

async fn from_metadata(path: &Path, metadata: Option<Metadata>) -> Result<First, DaemonError> {
    let metadata = match metadata {
        Some(m) => Some(m),
        None => match net::metadata::discover(None).await {
            Ok((m, source)) => {
                tracing::info!(?source, "OpenStack metadata found");
                Some(m)
            }
            Err(e) => {
                tracing::warn!(error = %e, "no OpenStack metadata");
                None
            }
        },
    };
    let Some(meta) = metadata else {
        let reason = format!(
            "no config file at {} and no OpenStack metadata",
            path.display()
        );
        let config = net::metadata::safe_default(None);
        return Ok(First {
            config,
            text: None,
            metadata: None,
            reason: Some(reason),
        });
    };
    let first = net::metadata::first_config(&meta);
    tracing::info!(reason = %first.reason, "first config from OpenStack");
    let reason = first.text.is_none().then(|| first.reason.clone());
    Ok(First {
        config: first.config,
        text: first.text,
        metadata: Some(meta),
        reason,
    })
}

/// Puts every change-manager event in the UI's log and keeps the running
/// config and text up to date.
pub async fn follow_changes(daemon: Arc<Daemon>, mut events: broadcast::Receiver<Event>) {
    loop {
        match events.recv().await {
            Ok(event) => {
                let view = adapt::event(&event);
                daemon.log(&view.kind, view.message);
            }
            Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => return,
        }
        if daemon.follow_running().await {
            if let Ok(mut safe) = daemon.safe_reason.lock() {
                *safe = None;
            }
        }
    }
}

/// Keeps the link snapshot fresh, restarting the watch when the roles change.
pub async fn watch_links(
    kernel: Arc<Kernel>,
    links: watch::Sender<Vec<LinkState>>,
    token: CancellationToken,
) {
    let mut roles = kernel.roles();
    loop {
        let current = roles.borrow_and_update().clone();
        let mut changed = roles.clone();
        let stop = async {
            tokio::select! {
                _ = changed.changed() => {}
                () = token.cancelled() => {}
            }
        };
        if let Err(e) = net::watch(current, links.clone(), Duration::from_secs(5), stop).await {
            tracing::warn!(error = %e, "link watch stopped; retrying");
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        if token.is_cancelled() {
            return;
        }
    }
}

/// One chart sample every interval.
pub async fn sample(daemon: Arc<Daemon>, token: CancellationToken) {
    let every = daemon.series.lock().map(|s| s.interval_secs()).unwrap_or(5);
    let mut tick = tokio::time::interval(Duration::from_secs(every));
    loop {
        tokio::select! {
            _ = tick.tick() => daemon.sample(),
            () = token.cancelled() => return,
        }
    }
}

/// The admin port (a failure is logged: forwarding goes on), the control
/// socket (a failure stops the start) and metrics.
pub async fn operator_doors(
    cfg: &Config,
    opts: &Options,
    daemon: Arc<Daemon>,
    token: &CancellationToken,
) -> Result<(), DaemonError> {
    let control: Arc<dyn Control> = daemon.clone();
    let listener = crate::control::bind(&opts.socket).await?;
    let router = crate::control::router(control.clone());
    let socket = opts.socket.clone();
    let stop = token.clone();
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await
        {
            tracing::error!(error = %e, "control socket");
        }
        let _ = std::fs::remove_file(socket);
    });
    let (doors, opened) = super::doors::Doors::open(cfg, control, token).await;
    match opened.admin {
        Ok(handle) => {
            let url = format!("https://{}/", handle.local_addr);
            daemon.log(
                "start",
                format!(
                    "admin UI at {url}, certificate SHA-256 {}",
                    handle.fingerprint
                ),
            );
            eprintln!(
                "parvis: admin UI {url} certificate SHA-256 {}",
                handle.fingerprint
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "admin UI not started");
            daemon.log("error", format!("admin UI not started: {e}"));
        }
    }
    if let Some(e) = opened.metrics_error {
        tracing::error!(error = %e, "metrics not served");
        daemon.log("error", format!("metrics not served: {e}"));
    }
    daemon.kernel.attach_doors(Arc::new(doors));
    Ok(())
}
