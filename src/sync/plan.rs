//! What a node does after a heartbeat, from its own state and its peer's:
//! nothing, wait, take the peer's version, or lead. Pure.

use std::cmp::Ordering;

use super::wire::NodeState;

/// The decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Same version, same text.
    InSync,
    /// Same version, pending here but confirmed there (the confirm did not
    /// reach this node): confirm it here.
    Confirm,
    /// This node has a change pending: it is settled (confirmed or rolled
    /// back, on both) before anything else; or the peer has one that
    /// loses to this node's version.
    Wait,
    /// The peer's version wins: copy what is missing and apply it here
    /// (pending with the same time left if it is pending there).
    Follow,
    /// This node's version wins: the peer follows, unless it holds a
    /// different config under the same number (then re-issue it higher).
    Lead,
}

/// Decides. The higher version in force wins; on a tie (both nodes made a
/// version with the same number while apart) the later one, then the
/// greater node name, so that both nodes reach the same verdict.
pub fn plan(me: &NodeState, peer: &NodeState) -> Plan {
    if me.running == peer.running && me.hash == peer.hash {
        if me.pending == Some(me.running) && peer.pending.is_none() {
            return Plan::Confirm;
        }
        return Plan::InSync;
    }
    let peer_wins = winner(me, peer) == Ordering::Less;
    match (me.pending.is_some(), peer.pending.is_some(), peer_wins) {
        (true, _, _) => Plan::Wait,
        (false, _, true) => Plan::Follow,
        (false, true, false) => Plan::Wait,
        (false, false, false) => Plan::Lead,
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
        let b = node("b", 3, "h3", "t");
        assert_eq!(plan(&a, &b), Plan::InSync);
        assert!(!diverged(&a, &b));
        let mut a3 = a.clone();
        a3.pending = Some(3);
        assert_eq!(plan(&a3, &b), Plan::Confirm, "confirmed there");
        assert_eq!(plan(&b, &a3), Plan::InSync);
        // b has version 4 pending: a takes it (pending too); b waits.
        let mut b4 = node("b", 4, "h4", "t");
        b4.pending = Some(4);
        assert_eq!(plan(&a, &b4), Plan::Follow);
        assert_eq!(plan(&b4, &a), Plan::Wait);
        // A pending version that loses is settled first.
        let mut b2 = node("b", 2, "h2", "t");
        b2.pending = Some(2);
        assert_eq!(plan(&a, &b2), Plan::Wait);
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
