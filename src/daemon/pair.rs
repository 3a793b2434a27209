//! The HA pair in the operator's views: the peer as the config sync last
//! saw it, and the warnings it calls for. Pure (reads a snapshot).

use std::time::SystemTime;

use crate::api::ha::FipView;
use crate::api::{HaPeerView, HaView};
use crate::sync::PeerSeen;

/// `status.ha` from what the sync last saw; `version` is this node's.
pub fn view(seen: &PeerSeen, version: u64) -> HaView {
    let now = SystemTime::now();
    HaView {
        node: seen.node.clone(),
        role: seen.role.clone(),
        config_version: version,
        diverged: seen.diverged,
        neutron: None,
        peer: HaPeerView {
            name: seen.peer.clone(),
            address: seen.address,
            reachable: seen.reachable,
            last_seen_secs: seen
                .last_seen
                .map(|t| now.duration_since(t).unwrap_or_default().as_secs()),
            role: seen.peer_role.clone(),
            config_version: seen.version,
            pending: seen.pending,
            error: seen.error.clone(),
            conflict: seen.conflict.clone(),
        },
    }
}

/// What the operator should know about the pair.
pub fn warnings(ha: &HaView) -> Vec<String> {
    let mut out = Vec::new();
    let p = &ha.peer;
    if ha.node.is_empty() {
        out.push(
            "ha: none of the [[ha.node]] addresses is on this machine; the config sync waits"
                .into(),
        );
    } else if !p.reachable {
        let why = p.error.as_deref().unwrap_or("no answer yet");
        out.push(format!(
            "ha: peer {} is not reachable ({why}); changes apply here and it catches up when it returns",
            p.name
        ));
    }
    if ha.diverged {
        out.push(format!(
            "ha: config versions diverge: this node runs version {}, peer {} runs version {}",
            ha.config_version, p.name, p.config_version
        ));
    }
    if let Some(c) = &p.conflict {
        out.push(format!("ha: {c}"));
    }
    if let Some(f) = &ha.neutron {
        out.extend(fip_warnings(f));
    }
    out
}

/// The "neutron" mode: a MASTER the floating IP does not reach (NOT
/// SERVING), a non-MASTER it does reach (DISAGREES), a failing API.
fn fip_warnings(f: &FipView) -> Vec<String> {
    let mut out = Vec::new();
    if f.note.starts_with("NOT SERVING") || f.note.starts_with("DISAGREES") {
        out.push(format!("ha: floating IP {}: {}", f.floating_ip, f.note));
    }
    if let Some(e) = &f.error {
        out.push(format!(
            "ha: the OpenStack API fails ({} calls): {e}",
            f.errors
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divergence_and_an_unreachable_peer_are_flagged() {
        let seen = PeerSeen {
            node: "a".into(),
            peer: "b".into(),
            reachable: false,
            version: 4,
            diverged: true,
            error: Some("no answer".into()),
            ..PeerSeen::default()
        };
        let v = view(&seen, 5);
        assert_eq!((v.config_version, v.peer.config_version), (5, 4));
        let w = warnings(&v).join("\n");
        assert!(w.contains("peer b is not reachable (no answer)"), "{w}");
        assert!(
            w.contains("this node runs version 5, peer b runs version 4"),
            "{w}"
        );
        let ok = view(
            &PeerSeen {
                node: "a".into(),
                reachable: true,
                ..PeerSeen::default()
            },
            5,
        );
        assert!(warnings(&ok).is_empty());
    }

    #[test]
    fn a_master_the_floating_ip_does_not_reach_is_a_warning() {
        let mut v = view(
            &PeerSeen {
                node: "a".into(),
                reachable: true,
                ..PeerSeen::default()
            },
            5,
        );
        let fip = |points_at: &str, agrees: bool, note: &str| FipView {
            floating_ip: "f1".into(),
            points_at: points_at.into(),
            agrees,
            note: note.into(),
            ..FipView::default()
        };
        v.neutron = Some(fip("unknown", false, "Neutron not asked yet"));
        assert!(warnings(&v).is_empty(), "not asked yet is no warning");
        v.neutron = Some(fip(
            "unknown",
            false,
            "NOT SERVING: this node is MASTER but Neutron has not said",
        ));
        assert!(warnings(&v).join("\n").contains("NOT SERVING"));
        v.neutron = Some(fip(
            "a",
            true,
            "serving: MASTER and the floating IP points here",
        ));
        assert!(warnings(&v).is_empty());
        v.neutron = Some(fip("b", false, "NOT SERVING: this node is MASTER but ..."));
        let w = warnings(&v).join("\n");
        assert!(w.contains("ha: floating IP f1: NOT SERVING"), "{w}");
        let mut f = fip("b", true, "not serving (role BACKUP)");
        f.error = Some("API unreachable: 192.168.10.1:9696: refused".into());
        f.errors = 3;
        v.neutron = Some(f);
        let w = warnings(&v).join("\n");
        assert!(
            w.contains("the OpenStack API fails (3 calls): API unreachable"),
            "{w}"
        );
    }
}
