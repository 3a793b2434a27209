//! The "neutron" failover mode: the election stays VRRP (keepalived,
//! unicast), but on becoming MASTER this node asks Neutron to point the
//! floating IP at **its own** public port, retrying with backoff while it
//! stays MASTER; both nodes ask Neutron where the floating IP points every
//! `ha.neutron.check` and show it against their VRRP role. [`judge`] is
//! pure; [`Failover`] does I/O (the API, netlink).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use super::neutron_api::{Api, FloatingIp};
pub use super::neutron_error::NeutronError;
use super::pair::LogFn;
use super::{Pair, Role};
use crate::api::ha::FipView;
use crate::config::HaNeutron;

/// First wait after a failed call; doubled up to [`BACKOFF_MAX`].
const BACKOFF_MIN: Duration = Duration::from_millis(200);
/// Longest wait between two attempts.
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How often the VRRP role is looked at.
const ROLE_POLL: Duration = Duration::from_millis(20);

/// What this node last learnt from Neutron.
#[derive(Debug, Default)]
struct Known {
    fip: Option<FloatingIp>,
    checked_at: Option<u64>,
    last_move: Option<String>,
    error: Option<String>,
    errors: u64,
}

/// This node's side of the "neutron" mode, while the daemon runs.
pub struct Failover {
    api: Api,
    me: String,
    ports: BTreeMap<String, String>,
    floating_ip: String,
    check: Duration,
    known: Mutex<Known>,
    log: LogFn,
}

impl std::fmt::Debug for Failover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Failover")
            .field("me", &self.me)
            .finish_non_exhaustive()
    }
}

impl Failover {
    /// Reads the credential and starts following `pair`'s role.
    pub fn start(
        n: &HaNeutron,
        pair: Arc<Pair>,
        log: LogFn,
    ) -> Result<Arc<Failover>, NeutronError> {
        let f = Arc::new(Failover {
            api: Api::new(n)?,
            me: pair.place.me.name.clone(),
            ports: n.ports.clone(),
            floating_ip: n.floating_ip.clone(),
            check: n.check,
            known: Mutex::new(Known::default()),
            log,
        });
        tokio::spawn(f.clone().run(pair));
        Ok(f)
    }

    /// The floating IP against `role`, for `parvis ha status`.
    pub fn view(&self, role: Role) -> FipView {
        let k = self.lock();
        judge(role, &self.me, &self.ports, &self.floating_ip, &k)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn my_port(&self) -> &str {
        self.ports.get(&self.me).map_or("", String::as_str)
    }

    fn points_here(&self) -> bool {
        let k = self.lock();
        k.fip.as_ref().and_then(|f| f.port_id.as_deref()) == Some(self.my_port())
    }

    async fn run(self: Arc<Self>, pair: Arc<Pair>) {
        if let Err(e) = self.api.warm().await {
            self.failed(&e);
        }
        let mut last = Role::Unknown;
        let mut next_check = Instant::now();
        loop {
            let role = pair.view().role;
            if role == Role::Master && (last != Role::Master || !self.points_here()) {
                self.take(&pair).await;
                next_check = Instant::now() + self.check;
            } else if Instant::now() >= next_check {
                if role == Role::Master {
                    self.check_now().await;
                } else {
                    // A slow check must not delay a takeover.
                    tokio::select! {
                        () = self.check_now() => {}
                        () = became_master(&pair) => {}
                    }
                }
                next_check = Instant::now() + self.check;
            }
            last = role;
            tokio::time::sleep(ROLE_POLL).await;
        }
    }

    /// Asks where the floating IP points (and renews the token on the way).
    async fn check_now(&self) {
        match self.api.get().await {
            Ok(f) => self.learnt(f),
            Err(e) => self.failed(&e),
        }
    }

    /// PUT the floating IP on this node's port until it is done or this
    /// node is no longer MASTER.
    async fn take(&self, pair: &Pair) {
        let start = Instant::now();
        let mut backoff = BACKOFF_MIN;
        let mut attempt = 0u32;
        loop {
            if pair.view().role != Role::Master {
                return;
            }
            // The role read may be stale (a daemon resumed after SIGSTOP has
            // not yet read keepalived's FIFO): only a node that holds the
            // public VIP is really MASTER.
            let (fixed, holds_vip) = public_addresses(pair).await;
            if !holds_vip {
                tokio::time::sleep(ROLE_POLL).await;
                continue;
            }
            attempt += 1;
            match self.api.associate(self.my_port(), fixed).await {
                Ok(f) if f.port_id.as_deref() == Some(self.my_port()) => {
                    let ms = start.elapsed().as_millis();
                    let msg = format!(
                        "floating IP {} now points at this node's port {} ({}) after {ms} ms, attempt {attempt}",
                        self.floating_ip,
                        self.my_port(),
                        f.fixed_ip_address.as_deref().unwrap_or("?"),
                    );
                    (self.log)("ha", msg.clone());
                    self.learnt(f);
                    self.lock().last_move = Some(format!("{msg}, at {}", now_secs()));
                    return;
                }
                Ok(f) => self.failed(&NeutronError::Answer(format!(
                    "the PUT answered port {:?}, not this node's {}",
                    f.port_id,
                    self.my_port()
                ))),
                Err(e) => self.failed(&e),
            }
            let until = Instant::now() + backoff;
            while Instant::now() < until && pair.view().role == Role::Master {
                tokio::time::sleep(ROLE_POLL).await;
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    fn learnt(&self, f: FloatingIp) {
        let mut k = self.lock();
        k.fip = Some(f);
        k.checked_at = Some(now_secs());
        if k.error.take().is_some() {
            drop(k);
            (self.log)("ha", "the OpenStack API answers again".into());
        }
    }

    fn failed(&self, e: &NeutronError) {
        let msg = e.to_string();
        let mut k = self.lock();
        k.errors += 1;
        let new = k.error.as_deref() != Some(msg.as_str());
        k.error = Some(msg.clone());
        drop(k);
        if new {
            tracing::warn!(error = %msg, "OpenStack API");
            (self.log)("error", format!("floating IP: {msg}"));
        }
    }
}

/// Returns once `pair` is MASTER.
async fn became_master(pair: &Pair) {
    while pair.view().role != Role::Master {
        tokio::time::sleep(ROLE_POLL).await;
    }
}

/// This node's own address on its public link (not the public VIP: the
/// fixed address the floating IP is associated with), and whether that link
/// holds the public VIP (keepalived adds it on becoming MASTER).
async fn public_addresses(pair: &Pair) -> (Option<IpAddr>, bool) {
    let Ok(observed) = crate::net::netlink::observe().await else {
        return (None, false);
    };
    let vip = pair.ha.vip_public.0.addr();
    let on_link: Vec<IpAddr> = observed
        .links
        .iter()
        .filter(|l| l.name == pair.place.public)
        .flat_map(|l| l.addresses.iter().map(|a| a.0.addr()))
        .collect();
    let own = on_link.iter().copied().find(|a| a.is_ipv4() && *a != vip);
    (own, on_link.contains(&vip))
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The floating IP as last known, against this node's `role`.
fn judge(
    role: Role,
    me: &str,
    ports: &BTreeMap<String, String>,
    fip_id: &str,
    k: &Known,
) -> FipView {
    let port = k.fip.as_ref().and_then(|f| f.port_id.clone());
    let owner = port.as_ref().and_then(|p| {
        ports
            .iter()
            .find(|(_, id)| *id == p)
            .map(|(n, _)| n.clone())
    });
    let points_at = match (&k.fip, &port, &owner) {
        (None, _, _) => "unknown".to_string(),
        (Some(_), None, _) => "nothing".to_string(),
        (Some(_), Some(_), Some(n)) => n.clone(),
        (Some(_), Some(_), None) => "another port".to_string(),
    };
    let this_node = owner.as_deref() == Some(me);
    let master = role == Role::Master;
    let agrees = k.fip.is_some() && master == this_node;
    let note = match (master, this_node, k.fip.is_some()) {
        // A MASTER Neutron never answered (e.g. its CA is wrong) is not
        // known to serve: say so rather than "not asked yet".
        (true, _, false) => "NOT SERVING: this node is MASTER but Neutron has not said where the floating IP points (no answer so far)".to_string(),
        (false, _, false) => "Neutron not asked yet".to_string(),
        (true, true, true) => "serving: MASTER and the floating IP points here".to_string(),
        (false, false, true) => format!(
            "not serving (role {}); the floating IP points at {points_at}",
            role.as_str()
        ),
        (true, false, true) => format!(
            "NOT SERVING: this node is MASTER but the floating IP points at {points_at}; moving it"
        ),
        (false, true, true) => format!(
            "DISAGREES: the floating IP points at this node, which is {}",
            role.as_str()
        ),
    };
    FipView {
        floating_ip: fip_id.to_string(),
        fixed_ip: k.fip.as_ref().and_then(|f| f.fixed_ip_address.clone()),
        port,
        points_at,
        this_node,
        serving: master && this_node,
        agrees,
        note,
        checked_at: k.checked_at,
        last_move: k.last_move.clone(),
        error: k.error.clone(),
        errors: k.errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(port: Option<&str>) -> Known {
        Known {
            fip: Some(FloatingIp {
                port_id: port.map(str::to_string),
                ..FloatingIp::default()
            }),
            ..Known::default()
        }
    }

    #[test]
    fn the_verdict_follows_neutron_and_vrrp() {
        let ports: BTreeMap<String, String> =
            [("a".into(), "pa".into()), ("b".into(), "pb".into())].into();
        let v = judge(Role::Master, "a", &ports, "f", &known(Some("pa")));
        assert!(v.serving && v.agrees && v.this_node, "{v:?}");
        let v = judge(Role::Master, "a", &ports, "f", &known(Some("pb")));
        assert!(
            !v.serving && !v.agrees && v.note.contains("NOT SERVING"),
            "{v:?}"
        );
        assert_eq!(v.points_at, "b");
        let v = judge(Role::Backup, "a", &ports, "f", &known(Some("pb")));
        assert!(!v.serving && v.agrees, "{v:?}");
        let v = judge(Role::Fault, "a", &ports, "f", &known(Some("pa")));
        assert!(!v.agrees && v.note.contains("DISAGREES"), "{v:?}");
        let v = judge(Role::Master, "a", &ports, "f", &known(None));
        assert_eq!(v.points_at, "nothing");
        assert!(!v.serving);
        let v = judge(Role::Master, "a", &ports, "f", &known(Some("px")));
        assert_eq!(v.points_at, "another port");
        let v = judge(Role::Master, "a", &ports, "f", &Known::default());
        assert!(!v.serving && !v.agrees && v.points_at == "unknown", "{v:?}");
        assert!(v.note.starts_with("NOT SERVING"), "{v:?}");
        let v = judge(Role::Backup, "a", &ports, "f", &Known::default());
        assert_eq!(v.note, "Neutron not asked yet");
    }
}
