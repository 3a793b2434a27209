//! The HA pair in the operator's views: the peer as the config sync last
//! saw it, and the warnings it calls for. Pure (reads a snapshot).

use std::time::SystemTime;

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
}
