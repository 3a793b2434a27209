//! What a node does after a heartbeat, from its own state and its peer's:
//! nothing, wait, take the peer's version, or lead. Pure.

use std::cmp::Ordering;

use super::wire::NodeState;

/// The decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Same version, same text.
    InSync,
    /// A change is pending on one side: its confirm or rollback reaches
    /// both; catching up waits until it is settled.
    Wait,
    /// The peer's version wins: copy what is missing and apply it here.
    Follow,
    /// This node's version wins: the peer follows, unless it holds a
    /// different config under the same number (then re-issue it higher).
    Lead,
}

/// Decides. The higher version in force wins; on a tie (both nodes made a
/// version with the same number while apart) the later one, then the
/// greater node name, so that both nodes reach the same verdict.
pub fn plan(me: &NodeState, peer: &NodeState) -> Plan {
    if me.pending.is_some() || peer.pending.is_some() {
        return Plan::Wait;
    }
    if me.running == peer.running && me.hash == peer.hash {
        return Plan::InSync;
    }
    match winner(me, peer) {
        Ordering::Less => Plan::Follow,
        _ => Plan::Lead,
    }
}

/// `Greater` when `me` wins.
fn winner(me: &NodeState, peer: &NodeState) -> Ordering {
    me.running
        .cmp(&peer.running)
        .then_with(|| me.time.cmp(&peer.time))
        .then_with(|| me.name.cmp(&peer.name))
}

/// True when the two nodes run different configs.
pub fn diverged(me: &NodeState, peer: &NodeState) -> bool {
    me.running != peer.running || me.hash != peer.hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, running: u64, hash: &str, time: &str) -> NodeState {
        NodeState {
            name: name.into(),
            running,
            hash: hash.into(),
            time: time.into(),
            last: running,
            ..NodeState::default()
        }
    }

    #[test]
    fn same_version_is_in_sync_and_pending_waits() {
        let a = node("a", 3, "h3", "t");
        let mut b = node("b", 3, "h3", "t");
        assert_eq!(plan(&a, &b), Plan::InSync);
        assert!(!diverged(&a, &b));
        b.pending = Some(4);
        assert_eq!(plan(&a, &b), Plan::Wait);
    }

    #[test]
    fn higher_version_wins_on_both_sides() {
        let a = node("a", 5, "h5", "2026-01-01T00:00:00Z");
        let b = node("b", 4, "h4", "2026-01-02T00:00:00Z");
        assert_eq!(plan(&a, &b), Plan::Lead);
        assert_eq!(plan(&b, &a), Plan::Follow);
        assert!(diverged(&a, &b));
    }

    #[test]
    fn a_tie_is_broken_the_same_way_on_both_sides() {
        let a = node("a", 5, "x", "2026-01-01T00:00:01Z");
        let b = node("b", 5, "y", "2026-01-01T00:00:00Z");
        assert_eq!(plan(&a, &b), Plan::Lead);
        assert_eq!(plan(&b, &a), Plan::Follow);
        let c = node("c", 5, "z", "2026-01-01T00:00:01Z");
        assert_eq!(plan(&a, &c), Plan::Follow);
        assert_eq!(plan(&c, &a), Plan::Lead);
    }
}
