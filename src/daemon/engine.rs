//! Assembling the daemon's core: the [`Daemon`] the operator views read,
//! over the change engine and a [`Kernel`], with the tasks that keep it
//! fresh (the change log, the chart samples). [`engine`] is that core
//! without the doors (admin port, control socket, signals, HA), for the
//! integration tests that serve it through their own admin port or control
//! socket. Does I/O (through the change engine and the kernel).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use super::series::SeriesRecorder;
use super::skeleton::EventLog;
use super::{start, Daemon, DaemonError, Kernel};
use crate::change::{Changer, Event};
use crate::config::Config;
use crate::net::LinkState;
use crate::store::Store;

/// The sender that keeps a [`Daemon`]'s view of the links fresh (the
/// running config's views are the daemon's own: `Daemon::follow_running`).
pub(super) struct Feeds {
    /// The links, for the link watch.
    pub links: watch::Sender<Vec<LinkState>>,
}

impl Daemon {
    /// A daemon over `changer` and `kernel` running `cfg` (from `text`);
    /// no safe-default reason, no pair.
    pub(super) fn new(
        changer: Changer,
        kernel: Arc<Kernel>,
        cfg: Arc<Config>,
        text: String,
    ) -> (Daemon, Feeds) {
        let (cfg_tx, cfg_rx) = watch::channel(cfg);
        let (text_tx, text_rx) = watch::channel(text);
        let (links_tx, links_rx) = watch::channel(Vec::new());
        let daemon = Daemon {
            changer,
            kernel,
            started: Instant::now(),
            links: links_rx,
            events: Mutex::new(EventLog::new(500)),
            series: Mutex::new(SeriesRecorder::new(5, 120)),
            running: cfg_rx,
            running_text: text_rx,
            running_tx: (cfg_tx, text_tx),
            safe_reason: Mutex::new(None),
            ha: std::sync::OnceLock::new(),
            ha_neutron: std::sync::OnceLock::new(),
            sync: None,
            sync_error: None,
            ha_role: watch::channel("unknown".to_string()).0,
            limit_sets: Mutex::new(None),
        };
        let feeds = Feeds { links: links_tx };
        (daemon, feeds)
    }
}

/// Starts the tasks every daemon runs: the change log follower (which also
/// keeps the running config fresh; `events` subscribed before the
/// startup, so its events are logged too) and the chart samples. Returns the
/// link sender, for a link watch if the caller runs one.
pub(super) fn spawn_tasks(
    daemon: &Arc<Daemon>,
    feeds: Feeds,
    events: broadcast::Receiver<Event>,
    token: &CancellationToken,
) -> watch::Sender<Vec<LinkState>> {
    tokio::spawn(start::follow_changes(daemon.clone(), events));
    tokio::spawn(start::sample(daemon.clone(), token.clone()));
    feeds.links
}

/// The daemon's core without its doors: the change engine on `store`
/// driving `kernel` (give it a recording firewall with
/// [`Kernel::with_firewall`]), `text` applied as the first version (or
/// the stored history restored, as `parvis serve` does at start), and the
/// tasks that keep the views fresh until `token` is cancelled. No link
/// watch, no HA, no safe default: a text that cannot be applied is an
/// error.
pub async fn engine(
    store: Store,
    kernel: Arc<Kernel>,
    text: &str,
    token: &CancellationToken,
) -> Result<Arc<Daemon>, DaemonError> {
    let changer = Changer::new(store, kernel.clone());
    let events = changer.subscribe();
    changer
        .startup(Some(text))
        .await
        .map_err(|e| DaemonError::Start(e.to_string()))?;
    let Some((v, cfg)) = changer.running().await else {
        return Err(DaemonError::Start("no config version is running".into()));
    };
    let running = changer
        .store()
        .get(v)
        .map(|(_, t)| t)
        .map_err(DaemonError::Store)?;
    let (daemon, feeds) = Daemon::new(changer, kernel, cfg, running);
    let daemon = Arc::new(daemon);
    drop(spawn_tasks(&daemon, feeds, events, token));
    Ok(daemon)
}
