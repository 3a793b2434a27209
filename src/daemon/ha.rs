//! The daemon's side of the pair: starts [`crate::ha::Pair`] when the config
//! has `[ha]`, and runs the health loop that decides the node's fitness
//! (left for keepalived; a daemon whose checks hang stops refreshing it).
//! The systemd watchdog has its own check (`super::watchdog`). Does I/O.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

use super::Daemon;
use crate::config::Config;
use crate::ha::{health, Pair};

/// Starts this node's half of the pair, if the config has `[ha]`. A failure
/// is logged and leaves the node out of the election (it never holds a VIP).
pub async fn start(cfg: &Config, state_dir: &Path, daemon: &Arc<Daemon>) -> Option<Arc<Pair>> {
    let ha = cfg.ha.as_ref()?;
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            daemon.log(
                "error",
                format!("HA not started: cannot find this binary: {e}"),
            );
            return None;
        }
    };
    let d = daemon.clone();
    let log: crate::ha::pair::LogFn = Arc::new(move |kind: &str, msg: String| d.log(kind, msg));
    match Pair::start(ha, state_dir, &exe, log.clone()).await {
        Ok(pair) => {
            if let Some(n) = &ha.neutron {
                start_neutron(n, &pair, daemon, log);
            }
            let v = pair.view();
            daemon.log(
                "ha",
                format!(
                    "node {} of the pair (peer {} at {})",
                    v.node, v.peer, v.peer_address
                ),
            );
            Some(pair)
        }
        Err(e) => {
            tracing::error!(error = %e, "HA not started: this node stays out of the election");
            daemon.log("error", format!("HA not started: {e}"));
            None
        }
    }
}

/// `mode = "neutron"`: starts the floating IP's mover. A failure (the
/// secret file) is logged; VRRP still runs, and status shows no floating IP.
fn start_neutron(
    n: &crate::config::HaNeutron,
    pair: &Arc<Pair>,
    daemon: &Arc<Daemon>,
    log: crate::ha::pair::LogFn,
) {
    match crate::ha::neutron::Failover::start(n, pair.clone(), log) {
        Ok(f) => {
            let _ = daemon.ha_neutron.set(f);
        }
        Err(e) => daemon.log("error", format!("HA neutron mode not started: {e}")),
    }
}

/// Every [`health::PERIOD`] (with `[ha]`): gathers the facts and writes the
/// verdict for keepalived.
pub async fn health_loop(daemon: Arc<Daemon>, pair: Option<Arc<Pair>>, token: CancellationToken) {
    let Some(pair) = pair else {
        return;
    };
    let mut last_verdict: Option<Result<(), String>> = None;
    let mut tick = tokio::time::interval(health::PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = token.cancelled() => return,
        }
        let verdict = health::verdict(&facts(&daemon, &pair).await);
        pair.write_health(&verdict);
        // The config sync tells the peer this node's VRRP role.
        let role = pair.view().role.as_str().to_string();
        daemon.ha_role.send_if_modified(|r| {
            let changed = *r != role;
            if changed {
                *r = role.clone();
            }
            changed
        });
        if last_verdict.as_ref() != Some(&verdict) {
            match &verdict {
                Ok(()) => daemon.log("ha", "healthy: ready to hold the VIPs"),
                Err(why) => daemon.log("ha", format!("unfit to hold the VIPs: {why}")),
            }
        }
        last_verdict = Some(verdict);
    }
}

async fn facts(daemon: &Daemon, pair: &Pair) -> health::Facts {
    let observed = crate::net::netlink::observe().await.unwrap_or_default();
    let local: Vec<IpAddr> = observed
        .links
        .iter()
        .flat_map(|l| l.addresses.iter().map(|a| a.0.addr()))
        .collect();
    let bound = daemon
        .kernel
        .forwarder()
        .map(|f| f.listeners())
        .unwrap_or_default();
    health::Facts {
        listeners_failed: health::probe_listeners(&bound, &local).await,
        links_down: health::links_down(&observed, &pair.links()),
        table: health::table_present().await,
        safe_default: daemon.safe_reason.lock().ok().and_then(|s| s.clone()),
    }
}
