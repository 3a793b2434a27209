//! What `parvis ha status`, the metrics and the dashboard show: this node's
//! VRRP role, the last transition and its cause, the transition count, and
//! the peer as last seen. Pure (a value behind a mutex).

use std::sync::Mutex;
use std::time::SystemTime;

pub use crate::api::ha::{metrics, HaView, Role, Transition};

/// The shared, changing part of the view.
#[derive(Debug)]
pub struct HaState {
    view: Mutex<HaView>,
    /// When the daemon started the pair, and how long after that a first
    /// MASTER means "no master was heard" rather than "the peer stopped".
    started: SystemTime,
    window: std::time::Duration,
}

impl HaState {
    /// Starts at role `Unknown` with no transition; `window` is the
    /// master-down interval (a MASTER within it of `started` is a start-up
    /// election).
    pub fn new(view: HaView, started: SystemTime, window: std::time::Duration) -> HaState {
        HaState {
            view: Mutex::new(view),
            started,
            window,
        }
    }
    /// A copy of the view.
    pub fn view(&self) -> HaView {
        self.lock().clone()
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, HaView> {
        self.view.lock().unwrap_or_else(|p| p.into_inner())
    }
    /// Records a role keepalived reported; returns the transition if the
    /// role changed. The cause is the health, handover or peer at the time.
    pub fn set_role(&self, to: Role, now: SystemTime) -> Option<Transition> {
        let mut v = self.lock();
        if v.role == to {
            return None;
        }
        let at_start = now
            .duration_since(self.started)
            .is_ok_and(|d| d <= self.window);
        let cause = cause(&v, to, at_start);
        let t = Transition {
            from: v.role,
            to,
            at: now
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            cause,
        };
        v.role = to;
        v.transitions += 1;
        v.last = Some(t.clone());
        Some(t)
    }
    /// Records the health loop's verdict.
    pub fn set_health(&self, health: &str) {
        let mut v = self.lock();
        if v.health != health {
            v.health = health.to_string();
        }
    }
    /// Records whether a handover holds this node in standby.
    pub fn set_standby(&self, standby: bool) {
        self.lock().standby = standby;
    }
}

/// Why a node moved to `to`, from what it knew at that moment.
fn cause(v: &HaView, to: Role, at_start: bool) -> String {
    match to {
        Role::Fault if v.standby => "planned handover: this node stands by".into(),
        Role::Fault if v.health != "ok" => format!("unhealthy: {}", v.health),
        Role::Fault => "a tracked link is down or the health check failed".into(),
        Role::Master if at_start && v.transitions <= 1 => format!(
            "peer {} not heard as master since this node started (down, or it gave up)",
            v.peer
        ),
        Role::Master => format!(
            "peer {} stopped advertising or gave up (priority 0)",
            v.peer
        ),
        Role::Backup if v.role == Role::Master => "a higher-priority master was heard".into(),
        Role::Backup if v.role == Role::Fault => "healthy again; ready to take over".into(),
        Role::Backup if v.role == Role::Unknown => "started as BACKUP (no preemption)".into(),
        Role::Backup => "peer is master".into(),
        Role::Unknown => "keepalived stopped".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> HaView {
        HaView {
            node: "a".into(),
            address: "10.0.0.2".into(),
            role: Role::Unknown,
            peer: "b".into(),
            peer_address: "10.0.0.3".into(),
            peer_role: "unknown".into(),
            peer_version: "unknown".into(),
            last: None,
            transitions: 0,
            health: "ok".into(),
            standby: false,
            vips: ["192.168.10.4/24".into(), "10.0.0.1/24".into()],
            neutron: None,
        }
    }

    #[test]
    fn transitions_are_counted_with_their_cause() {
        let now = SystemTime::UNIX_EPOCH;
        let s = HaState::new(view(), now, std::time::Duration::from_secs(4));
        assert!(s.set_role(Role::Backup, now).is_some());
        assert!(
            s.set_role(Role::Backup, now).is_none(),
            "same role: no transition"
        );
        let t = s.set_role(Role::Master, now).expect("moved");
        assert!(t.cause.contains("since this node started"), "{}", t.cause);
        assert!(t.cause.contains("peer b"), "{}", t.cause);
        s.set_role(Role::Backup, now);
        let later = now + std::time::Duration::from_secs(60);
        let t = s.set_role(Role::Master, later).expect("moved");
        assert!(t.cause.contains("peer b"), "{}", t.cause);
        s.set_health("down: table inet parvis is missing");
        let t = s.set_role(Role::Fault, now).expect("moved");
        assert!(t.cause.contains("table inet parvis"), "{}", t.cause);
        assert_eq!(s.view().transitions, 5);
        s.set_standby(true);
        let t = s.set_role(Role::Fault, now);
        assert!(t.is_none());
    }

    #[test]
    fn metrics_name_the_role_and_count() {
        let s = HaState::new(view(), SystemTime::UNIX_EPOCH, std::time::Duration::ZERO);
        s.set_role(Role::Master, SystemTime::UNIX_EPOCH);
        let m = metrics(&s.view());
        assert!(
            m.contains("parvis_ha_state{node=\"a\",role=\"MASTER\"} 2\n"),
            "{m}"
        );
        assert!(
            m.contains("parvis_ha_transitions_total{node=\"a\"} 1\n"),
            "{m}"
        );
    }

    #[test]
    fn roles_serialise_upper_case_and_gauge() {
        assert_eq!(
            serde_json::to_string(&Role::Master).ok().as_deref(),
            Some("\"MASTER\"")
        );
        assert_eq!(Role::Fault.gauge(), 3);
    }
}
