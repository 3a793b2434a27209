//! The daemon as the admin UI, the API and the CLI see it: the real
//! [`Control`], reading the forwarder's snapshots, the firewall's runtime
//! state, the links and the change manager. Does I/O (through them).

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;

use crate::api::{
    ApiError, ApplyOutcome, ApplyRequest, Author, BackendView, BanScopeView, BanView, BoxFuture,
    ConfirmOutcome, ConnView, Control, EventView, LinkView, MetricsView, NftApplyView, RouteView,
    RuleCounterView, RulesetView, SeriesView, ServerView, SetFillView, StatusView, VersionView,
};
use crate::change::Changer;
use crate::config::Config;
use crate::firewall;
use crate::net::LinkState;
use crate::sync::redact::{redact, restore};

use super::adapt;
use super::kernel::Kernel;
use super::series::SeriesRecorder;
use super::skeleton::{self, EventLog};

/// Everything the operator-facing views read.
pub struct Daemon {
    pub(super) changer: Changer,
    pub(super) kernel: Arc<Kernel>,
    pub(super) started: Instant,
    pub(super) links: watch::Receiver<Vec<LinkState>>,
    pub(super) events: Mutex<EventLog>,
    pub(super) series: Mutex<SeriesRecorder>,
    /// The config in force (the stored version, or the safe default).
    pub(super) running: watch::Receiver<Arc<Config>>,
    pub(super) running_text: watch::Receiver<String>,
    /// The senders of `running` and `running_text`, so that a change made
    /// through the views updates them before it answers.
    pub(super) running_tx: (watch::Sender<Arc<Config>>, watch::Sender<String>),
    /// Why the daemon runs the safe default, if it does.
    pub(super) safe_reason: Mutex<Option<String>>,
    /// This node's half of the pair, when the config has `[ha]`.
    pub(super) ha: std::sync::OnceLock<Arc<crate::ha::Pair>>,
    /// With `[ha] mode = "neutron"`: the floating IP's mover.
    pub(super) ha_neutron: std::sync::OnceLock<Arc<crate::ha::neutron::Failover>>,
    /// The HA pair's config sync, with `[ha]`.
    pub(super) sync: Option<Arc<crate::sync::Link>>,
    /// Why the config sync did not start, if `[ha]` is set and it did not.
    pub(super) sync_error: Option<String>,
    /// This node's VRRP role for the sync's heartbeats: the VRRP
    /// supervision sends `MASTER`, `BACKUP` or `FAULT` here.
    pub ha_role: watch::Sender<String>,
    /// How full the meter and ban sets were, and when that was read.
    pub(super) limit_sets: Mutex<Option<(Instant, Vec<SetFillView>)>>,
}

/// How long a reading of the sets' fullness serves `/metrics`: listing a
/// full set of 65,536 sources takes nft about a second.
const SET_FILL_TTL: std::time::Duration = std::time::Duration::from_secs(10);

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e.to_string())
}

impl Daemon {
    /// Brings the views of the running config (its text, the parsed
    /// config) up to the engine's state now, rather than when the change
    /// log follower gets to it: a `parvis export` or config page right
    /// after an apply or rollback shows the new version. The change-log
    /// follower uses it too. Returns whether a version is running.
    pub(super) async fn follow_running(&self) -> bool {
        let Some((v, running)) = self.changer.running().await else {
            return false;
        };
        if let Ok((_, t)) = self.changer.store().get(v) {
            self.running_tx.1.send_replace(t);
        }
        self.running_tx.0.send_replace(running);
        true
    }
}

impl Daemon {
    fn config(&self) -> Arc<Config> {
        self.running.borrow().clone()
    }

    /// Records one event for the UI's log (the change manager's arrive by
    /// subscription, see `super::run`).
    pub fn log(&self, kind: &str, message: impl Into<String>) {
        if let Ok(mut ev) = self.events.lock() {
            ev.push(adapt::unix(SystemTime::now()), kind, message);
        }
    }

    /// An apply of the config in force re-reads the admin certificate
    /// (renewed in the same files); a changed one is logged.
    pub(super) async fn refresh_cert(&self) {
        let Some(doors) = self.kernel.doors() else {
            return;
        };
        if let Some(fp) = doors.refresh_cert().await {
            self.log(
                "applied",
                format!("admin certificate reloaded: SHA-256 {fp}"),
            );
        }
    }

    /// How full the meters are (a full meter refuses new sources), read at
    /// most every [`SET_FILL_TTL`].
    fn set_fill(&self) -> Vec<SetFillView> {
        let Ok(mut cache) = self.limit_sets.lock() else {
            return Vec::new();
        };
        if let Some((at, sets)) = cache.as_ref() {
            if at.elapsed() < SET_FILL_TTL {
                return sets.clone();
            }
        }
        let sets: Vec<SetFillView> = self
            .kernel
            .firewall()
            .set_fill()
            .unwrap_or_default()
            .into_iter()
            .map(|f| SetFillView {
                set: f.set,
                elements: f.elements,
                size: f.size,
            })
            .collect();
        *cache = Some((Instant::now(), sets.clone()));
        sets
    }

    /// Takes one sample for the dashboard chart.
    pub fn sample(&self) {
        let (total, active) = match self.kernel.forwarder() {
            Some(f) => {
                let s = f.stats();
                (s.accepted.values().sum(), s.active)
            }
            None => (0, 0),
        };
        if let Ok(mut series) = self.series.lock() {
            series.record(adapt::unix(SystemTime::now()), total, active);
        }
    }

    fn link_views(&self) -> Vec<LinkView> {
        self.links
            .borrow()
            .iter()
            .filter(|l| l.role.is_some() || l.name != "lo")
            .map(|l| LinkView {
                name: l.name.clone(),
                role: l.role.map(|r| r.to_string()).unwrap_or_default(),
                mac: l.mac.map(|m| m.to_string()).unwrap_or_default(),
                state: l.oper_state.to_string(),
                mtu: l.mtu,
                addresses: l.addresses.iter().map(|a| a.to_string()).collect(),
                rx_bytes: l.counters.rx_bytes,
                tx_bytes: l.counters.tx_bytes,
                rx_packets: l.counters.rx_packets,
                tx_packets: l.counters.tx_packets,
                errors: l.counters.rx_errors + l.counters.tx_errors,
                drops: l.counters.rx_dropped + l.counters.tx_dropped,
            })
            .collect()
    }

    fn warnings(&self, backends: &[BackendView]) -> Vec<String> {
        let mut out = Vec::new();
        if let Ok(reason) = self.safe_reason.lock() {
            if let Some(r) = reason.as_ref() {
                out.push(format!("running the safe default (inbound closed but SSH and admin from admin.allow): {r}"));
            }
        }
        for b in backends {
            for s in b.servers.iter().filter(|s| !s.up) {
                out.push(format!("backend {}: server {} is down", b.name, s.addr));
            }
        }
        out
    }
}

impl Control for Daemon {
    fn status(&self) -> StatusView {
        let cfg = self.config();
        let mut listeners = skeleton::listeners_of(&cfg);
        if let Some(f) = self.kernel.forwarder() {
            let stats = f.stats();
            let live = f.connections();
            for l in &mut listeners {
                l.total = stats.accepted.get(&l.name).copied().unwrap_or(0);
                l.active = live.iter().filter(|c| c.listener == l.name).count() as u64;
            }
        }
        let backends = self.backends();
        let now = SystemTime::now();
        let config_version = self.changer.store().current().unwrap_or(0);
        let ha = self.sync.as_ref().map(|l| {
            let running = self.changer.snapshot().running;
            let mut v = super::pair::view(&l.status(), running);
            v.neutron = self
                .ha_neutron
                .get()
                .zip(self.ha.get())
                .map(|(f, p)| f.view(p.view().role));
            v
        });
        let mut warnings = self.warnings(&backends);
        warnings.extend(ha.iter().flat_map(super::pair::warnings));
        warnings.extend(self.sync_error.clone());
        StatusView {
            name: cfg.appliance.name.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            uptime_secs: self.started.elapsed().as_secs(),
            interfaces: self.link_views(),
            listeners,
            config_version,
            pending: self
                .changer
                .store()
                .pending()
                .map(|p| adapt::pending(&p, now)),
            warnings,
            ha,
        }
    }

    fn routes(&self) -> Vec<RouteView> {
        skeleton::routes_of(&self.config())
    }

    fn backends(&self) -> Vec<BackendView> {
        let mut views = skeleton::backends_of(&self.config());
        let Some(f) = self.kernel.forwarder() else {
            return views;
        };
        let live = f.backends();
        for v in &mut views {
            let Some(b) = live.iter().find(|b| b.name == v.name) else {
                continue;
            };
            v.servers = b
                .servers
                .iter()
                .map(|s| ServerView {
                    addr: s.addr,
                    up: s.up,
                    drained: s.drained,
                    active: u64::from(s.active),
                    total: s.total,
                    bytes_in: s.bytes_in,
                    bytes_out: s.bytes_out,
                })
                .collect();
        }
        views
    }

    fn connections(&self) -> Vec<ConnView> {
        let Some(f) = self.kernel.forwarder() else {
            return Vec::new();
        };
        let now_ms = adapt::unix(SystemTime::now()).saturating_mul(1000);
        f.connections()
            .into_iter()
            .map(|c| ConnView {
                id: c.id,
                listener: c.listener,
                client: c.client,
                host: c.host,
                backend: c.backend,
                server: c.server,
                age_ms: now_ms.saturating_sub(c.started_ms),
                bytes_in: c.bytes_in,
                bytes_out: c.bytes_out,
            })
            .collect()
    }

    fn series(&self) -> SeriesView {
        self.series
            .lock()
            .map(|s| s.view())
            .unwrap_or_else(|_| SeriesView {
                interval_secs: 5,
                points: Vec::new(),
            })
    }

    fn events(&self) -> Vec<EventView> {
        self.events.lock().map(|e| e.view()).unwrap_or_default()
    }

    fn note(&self, kind: &str, message: String) {
        self.log(kind, message);
    }

    fn config_text(&self) -> String {
        redact(&self.running_text.borrow())
    }

    fn running_config(&self) -> Option<Arc<Config>> {
        Some(self.config())
    }

    fn export(&self) -> Option<crate::api::export::ExportView> {
        let text = self.running_text.borrow().clone();
        let version = self.changer.snapshot().running;
        (!text.trim().is_empty()).then(|| adapt::export(&self.config(), text, version))
    }

    fn check(&self, text: &str) -> crate::api::CheckResult {
        // A text edited from a redacted view is checked with the running
        // secrets back, as an apply of it would be.
        crate::api::check_text(&restore(text, &self.running_text.borrow()))
    }

    fn history(&self) -> Vec<VersionView> {
        let store = self.changer.store();
        let current = store.current();
        store
            .list()
            .iter()
            .map(|m| adapt::version(m, current))
            .collect()
    }

    fn version_text(&self, version: u64) -> Option<String> {
        self.changer
            .store()
            .get(version)
            .ok()
            .map(|(_, text)| redact(&text))
    }

    fn ruleset(&self) -> Result<RulesetView, ApiError> {
        let fw = self.kernel.firewall();
        let text = fw.ruleset_text().map_err(internal)?;
        let counters = fw
            .counters()
            .map_err(internal)?
            .into_iter()
            .map(|c| RuleCounterView {
                chain: c.chain,
                comment: c.comment,
                packets: c.packets,
                bytes: c.bytes,
            })
            .collect();
        Ok(RulesetView { text, counters })
    }

    fn bans(&self) -> Result<Vec<BanView>, ApiError> {
        Ok(self
            .kernel
            .firewall()
            .bans()
            .map_err(internal)?
            .into_iter()
            .map(|b| BanView {
                addr: b.addr,
                expires_in_secs: b.expires_in.map_or(0, |d| d.as_secs()),
                scope: match b.scope {
                    firewall::BanScope::All => BanScopeView::All,
                    firewall::BanScope::Admin => BanScopeView::Admin,
                },
            })
            .collect())
    }

    fn ban_add(&self, addr: IpAddr, secs: u64) -> Result<(), ApiError> {
        let prefix = self.config().limits.ipv6_prefix;
        let d = Duration::from_secs(secs);
        self.kernel
            .firewall()
            .ban_add(addr, d, firewall::BanScope::All, prefix)
            .map_err(internal)?;
        self.log("ban", format!("{addr} banned for {secs}s"));
        if let Some(link) = &self.sync {
            link.ban(addr, secs, false);
        }
        Ok(())
    }

    fn login_ban(&self, addr: IpAddr, secs: u64) -> Result<(), ApiError> {
        let prefix = self.config().limits.ipv6_prefix;
        let d = Duration::from_secs(secs);
        self.kernel
            .firewall()
            .ban_add(addr, d, firewall::BanScope::Admin, prefix)
            .map_err(internal)?;
        self.log(
            "ban",
            format!("{addr} banned from the admin port and SSH for {secs}s (failed logins)"),
        );
        if let Some(link) = &self.sync {
            link.ban(addr, secs, true);
        }
        Ok(())
    }

    fn ban_del(&self, addr: IpAddr) -> Result<(), ApiError> {
        let prefix = self.config().limits.ipv6_prefix;
        let lifted = self
            .kernel
            .firewall()
            .ban_del(addr, prefix)
            .map_err(internal)?;
        if !lifted {
            return Err(ApiError::not_found(format!("{addr} is not banned")));
        }
        self.log("ban", format!("ban on {addr} lifted"));
        if let Some(link) = &self.sync {
            link.unban(addr);
        }
        Ok(())
    }

    fn drain(&self, backend: &str, server: &str, on: bool) -> Result<(), ApiError> {
        let f = self
            .kernel
            .forwarder()
            .ok_or_else(|| ApiError::unavailable("the forwarder is not running"))?;
        f.set_drained(backend, server, on).map_err(|e| match e {
            crate::forwarder::drain::DrainError::Save { .. } => internal(e),
            other => ApiError::new(400, other.to_string()),
        })?;
        let what = if on { "drained" } else { "undrained" };
        self.log(
            "backend",
            format!("backend {backend}: server {server} {what}"),
        );
        Ok(())
    }

    fn conn_log(&self, filter: &crate::api::ConnLogFilter) -> Vec<serde_json::Value> {
        let Some(f) = self.kernel.forwarder() else {
            return Vec::new();
        };
        let want = crate::forwarder::log::Filter {
            client: filter.client.clone(),
            host: filter.host.clone(),
            end: filter.end.clone(),
        };
        let limit = filter.limit.unwrap_or(500).min(500);
        f.log()
            .recent(&want, limit)
            .into_iter()
            .map(|e| {
                let mut v = serde_json::to_value(&e.finished).unwrap_or_default();
                v["line"] = crate::forwarder::log::format::logfmt(&e.finished, e.tls).into();
                v
            })
            .collect()
    }

    fn ha(&self) -> Option<crate::ha::HaView> {
        let mut v = self.ha.get().map(|p| p.view())?;
        v.neutron = self.ha_neutron.get().map(|f| f.view(v.role));
        // The peer's role and version as its config sync last told them.
        if let Some(link) = &self.sync {
            let seen = link.status();
            if seen.reachable || seen.last_seen.is_some() {
                if !seen.peer_role.is_empty() {
                    v.peer_role = seen.peer_role;
                }
                v.peer_version = seen.version.to_string();
            }
        }
        Some(v)
    }

    fn ha_handover(&self) -> BoxFuture<'_, Result<String, ApiError>> {
        Box::pin(async move {
            let pair = self.ha.get().ok_or_else(|| {
                ApiError::not_found("this appliance is not one of a pair (no [ha])")
            })?;
            self.log("ha", "planned handover asked");
            let relay = self.sync.clone().map(|link| -> crate::ha::drain::RelayFn {
                Arc::new(move |within| {
                    let link = link.clone();
                    Box::pin(async move { link.relay(within).await })
                })
            });
            let out = pair.handover(relay).await.map_err(ApiError::conflict);
            match &out {
                Ok(m) => self.log("ha", format!("handover done: {m}")),
                Err(e) => self.log("error", format!("handover failed: {e}")),
            }
            out
        })
    }

    fn metrics(&self) -> MetricsView {
        let nft = self.kernel.nft_stats();
        let mut view = MetricsView::default();
        if let Some(f) = self.kernel.forwarder() {
            view.log_dropped = Some(f.log().dropped());
            let stats = f.stats();
            view.routes = adapt::route_counts(&stats);
            view.health_transitions = adapt::transitions(&f.backends());
            for (listener, reasons) in &stats.ended {
                for (reason, count) in reasons {
                    view.connections.push(crate::api::ConnCountView {
                        listener: listener.clone(),
                        backend: String::new(),
                        result: reason.as_str().to_string(),
                        count: *count,
                    });
                }
            }
        }
        view.limit_sets = self.set_fill();
        view.nft_apply = Some(NftApplyView {
            last_duration_secs: nft.last.as_secs_f64(),
            last_ok: nft.last_ok,
            ok_total: nft.ok,
            failed_total: nft.failed,
        });
        view
    }

    fn apply(
        &self,
        req: ApplyRequest,
        author: Author,
    ) -> BoxFuture<'_, Result<ApplyOutcome, ApiError>> {
        Box::pin(async move {
            let origin = adapt::origin(author, &req.comment);
            let within = req.confirm_within_secs.map(Duration::from_secs);
            // A text edited from a redacted view keeps the pair's key.
            let text = restore(&req.config, &self.running_text.borrow().clone());
            let out = self
                .changer
                .apply(&text, origin, within, req.force)
                .await
                .map_err(|e| adapt::error(&e))?;
            if matches!(out, crate::change::ApplyOutcome::Unchanged { .. }) {
                self.refresh_cert().await;
            }
            self.follow_running().await;
            Ok(adapt::outcome(&out, SystemTime::now()))
        })
    }

    fn confirm(&self, _author: Author) -> BoxFuture<'_, Result<ConfirmOutcome, ApiError>> {
        Box::pin(async move {
            let version = self.changer.confirm().await.map_err(|e| adapt::error(&e))?;
            self.follow_running().await;
            Ok(ConfirmOutcome { version })
        })
    }

    fn rollback(
        &self,
        version: Option<u64>,
        author: Author,
    ) -> BoxFuture<'_, Result<ApplyOutcome, ApiError>> {
        Box::pin(async move {
            let out = self
                .changer
                .rollback_from(version, author.source_addr)
                .await
                .map_err(|e| adapt::error(&e))?;
            self.follow_running().await;
            Ok(adapt::outcome(&out, SystemTime::now()))
        })
    }
}
