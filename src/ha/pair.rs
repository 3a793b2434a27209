//! Runs this node's half of the pair: renders the engines' configs under
//! `state_dir/ha/`, starts conntrackd and keepalived as supervised children,
//! follows keepalived's notify FIFO (committing conntrackd's external cache
//! on takeover, the way conntrack-tools' `primary-backup.sh` does), and
//! carries out a planned handover. Does I/O.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::child::{self, Supervised};
use super::render::{self, Hooks};
use super::state::{HaState, HaView, Role};
use super::{drain, fifo, health, locate, HaError, Paths, Place};
use crate::config::Ha;

/// Logs an event in the daemon's event log: kind and message.
pub type LogFn = Arc<dyn Fn(&str, String) + Send + Sync>;

/// This node's half of the pair, while the daemon runs.
pub struct Pair {
    /// The `[ha]` section in force.
    pub ha: Ha,
    /// This node, the peer and the links.
    pub place: Place,
    /// Every file of the engines.
    pub paths: Paths,
    state: Arc<HaState>,
    children: Mutex<Vec<Supervised>>,
    /// The drain tunnel, when it could be set up.
    pub(super) drain: Option<drain::Plan>,
    /// The daemon's event log.
    pub(super) log: LogFn,
}

impl std::fmt::Debug for Pair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pair").field("place", &self.place).finish()
    }
}

impl Pair {
    /// Finds this node, writes the configs and starts both engines.
    /// `parvis` is this binary (the health script runs `parvis ha check`).
    pub async fn start(
        ha: &Ha,
        state_dir: &Path,
        parvis: &Path,
        log: LogFn,
    ) -> Result<Arc<Pair>, HaError> {
        let observed = crate::net::netlink::observe()
            .await
            .map_err(|e| HaError::Net(e.to_string()))?;
        let place = locate(ha, &observed)?;
        let paths = Paths::new(state_dir);
        prepare(ha, &place, &paths, parvis)?;
        let window = ha.advert * 4 + Duration::from_secs(1);
        let state = Arc::new(HaState::new(view(ha, &place), SystemTime::now(), window));
        let drain = start_drain(ha, &place, &log);
        let pair = Arc::new(Pair {
            ha: ha.clone(),
            place,
            paths,
            state,
            children: Mutex::new(Vec::new()),
            drain,
            log: log.clone(),
        });
        pair.follow_fifo(log.clone());
        pair.spawn_children(log);
        tracing::info!(node = %pair.place.me.name, peer = %pair.place.peer.name,
            internal = %pair.place.internal, public = %pair.place.public, "HA pair started");
        Ok(pair)
    }

    /// The view `parvis ha status` shows.
    pub fn view(&self) -> HaView {
        self.state.view()
    }

    /// The shared state (role, health).
    pub fn state(&self) -> &Arc<HaState> {
        &self.state
    }

    /// Leaves the health loop's verdict for keepalived's script.
    pub fn write_health(&self, verdict: &Result<(), String>) {
        self.state.set_health(match verdict {
            Ok(()) => "ok",
            Err(why) => why,
        });
        if let Err(e) = health::write(&self.paths.health(), verdict) {
            tracing::warn!(error = %e, "health file");
        }
    }

    /// The links that must be up.
    pub fn links(&self) -> [String; 2] {
        [self.place.public.clone(), self.place.internal.clone()]
    }

    fn follow_fifo(&self, log: LogFn) {
        let path = self.paths.notify_fifo();
        let state = self.state.clone();
        let conf = self.paths.conntrackd_conf();
        let spawned = std::thread::Builder::new()
            .name("ha-fifo".into())
            .spawn(move || {
                let result = fifo::read(&path, |role| {
                    conntrackd_follow(&conf, role);
                    if let Some(t) = state.set_role(role, SystemTime::now()) {
                        tracing::info!(from = t.from.as_str(), to = t.to.as_str(), cause = %t.cause, "VRRP transition");
                        log("ha", format!("{} → {}: {}", t.from.as_str(), t.to.as_str(), t.cause));
                    }
                });
                if let Err(e) = result {
                    tracing::error!(error = %e, "notify FIFO");
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the notify FIFO reader");
        }
    }

    fn spawn_children(&self, log: LogFn) {
        let p = &self.paths;
        let s = |p: PathBuf| p.display().to_string();
        let conntrackd = vec!["conntrackd".into(), "-C".into(), s(p.conntrackd_conf())];
        let keepalived = vec![
            "keepalived".into(),
            "--dont-fork".into(),
            "--log-console".into(),
            "--vrrp".into(),
            "-f".into(),
            s(p.keepalived_conf()),
            "-p".into(),
            s(p.keepalived_pid()),
            "-r".into(),
            s(p.vrrp_pid()),
            "-c".into(),
            s(p.checkers_pid()),
            "-b".into(),
            s(p.bfd_pid()),
        ];
        let mut children = self.children.lock().unwrap_or_else(|e| e.into_inner());
        let lock = p.conntrackd_lock();
        let l = log.clone();
        children.push(child::supervise("conntrackd", conntrackd, None, move |e| {
            // A conntrackd killed hard leaves its lock behind and would refuse to start.
            let _ = std::fs::remove_file(&lock);
            l(
                "ha",
                format!("{} exited ({}); restarting", e.name, e.status),
            );
        }));
        let state = self.state.clone();
        let pid = Some(p.keepalived_pid());
        children.push(child::supervise("keepalived", keepalived, pid, move |e| {
            state.set_role(Role::Unknown, SystemTime::now());
            log(
                "ha",
                format!("{} exited ({}); restarting", e.name, e.status),
            );
        }));
    }

    /// Stops both engines (keepalived first: it gives the VIPs up with
    /// priority 0). Blocking.
    pub fn stop(&self) {
        let mut children =
            std::mem::take(&mut *self.children.lock().unwrap_or_else(|e| e.into_inner()));
        while let Some(c) = children.pop() {
            c.stop();
        }
        if self.drain.is_some() {
            drain::teardown();
        }
    }

    /// Holds this node out of the election (`true`: FAULT through its
    /// track file) or lets it back in.
    pub(super) fn set_standby(&self, on: bool) -> Result<(), String> {
        let path = self.paths.standby();
        std::fs::write(&path, if on { "1\n" } else { "0\n" })
            .map_err(|e| format!("{}: {e}", path.display()))?;
        self.state.set_standby(on);
        Ok(())
    }
}

/// Writes both configs, the standby file (0), a health file that says
/// "starting" and the FIFO.
fn prepare(ha: &Ha, place: &Place, paths: &Paths, parvis: &Path) -> Result<(), HaError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| HaError::Io { path, source }
    };
    std::fs::create_dir_all(&paths.dir).map_err(io(&paths.dir))?;
    let user = nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map_or_else(|| "root".to_string(), |u| u.name);
    let hooks = Hooks {
        parvis,
        script_user: &user,
        max_age_ms: u64::try_from(health::MAX_AGE.as_millis()).unwrap_or(1000),
    };
    let files = [
        (
            paths.keepalived_conf(),
            render::keepalived(ha, place, paths, &hooks),
        ),
        (paths.conntrackd_conf(), render::conntrackd(place, paths)),
        (paths.standby(), "0\n".to_string()),
    ];
    for (path, text) in files {
        std::fs::write(&path, text).map_err(io(&path))?;
    }
    health::write(&paths.health(), &Err("starting".into()))?;
    let _ = std::fs::remove_file(paths.conntrackd_lock());
    fifo::create(&paths.notify_fifo())
}

/// Sets up the drain tunnel; without it a handover cuts user-space
/// connections (logged).
fn start_drain(ha: &Ha, place: &Place, log: &LogFn) -> Option<drain::Plan> {
    let Some(plan) = drain::Plan::new(ha, place.me.address) else {
        log(
            "ha",
            "no drain on handover: the drain tunnel needs IPv4 node addresses and VIP".into(),
        );
        return None;
    };
    match drain::setup(&plan, &place.public) {
        Ok(()) => Some(plan),
        Err(e) => {
            tracing::warn!(error = %e, "drain tunnel");
            log("error", format!("no drain on handover: {e}"));
            None
        }
    }
}

fn view(ha: &Ha, place: &Place) -> HaView {
    HaView {
        node: place.me.name.clone(),
        address: place.me.address.to_string(),
        role: Role::Unknown,
        peer: place.peer.name.clone(),
        peer_address: place.peer.address.to_string(),
        peer_role: "unknown".into(),
        peer_version: "unknown".into(),
        last: None,
        transitions: 0,
        health: "starting".into(),
        standby: false,
        vips: [ha.vip_public.0.to_string(), ha.vip_internal.0.to_string()],
        neutron: None,
    }
}

/// What conntrack-tools' `primary-backup.sh` does on each transition.
fn conntrackd_follow(conf: &Path, role: Role) {
    let steps: &[&str] = match role {
        // Commit the peer's flows to the kernel, flush the caches, resync
        // with the kernel and send everything to the peer.
        Role::Master => &["-c", "-f", "-R", "-B"],
        // Shorten the kernel timers of flows that now live elsewhere and ask
        // the new master for its state.
        Role::Backup => &["-t", "-n"],
        Role::Fault => &["-t"],
        Role::Unknown => &[],
    };
    for step in steps {
        let out = std::process::Command::new("conntrackd")
            .arg("-C")
            .arg(conf)
            .arg(step)
            .output();
        match out {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                tracing::warn!(step, stderr = %String::from_utf8_lossy(&o.stderr).trim(), "conntrackd")
            }
            Err(e) => tracing::warn!(step, error = %e, "conntrackd"),
        }
    }
}
