//! Confirm-or-rollback over a real store on disk, with a test double for
//! the kernel steps (see `change_support`): one pending change at a time,
//! rollback within a second of the deadline, confirm cancels it, and the
//! pending change survives a restart.

mod change_support;

use std::time::{Duration, SystemTime};

use change_support::{all_steps, cli, engine, running_a, state, Knobs};
use parvis::change::{ApplyOutcome, ChangeError, EventKind};
use parvis::store::VersionState;

#[tokio::test]
async fn a_second_apply_while_one_is_pending_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ch, _rec) = running_a(dir.path()).await;
    let out = ch
        .apply(&all_steps("b"), cli(), Some(Duration::from_secs(30)), false)
        .await
        .expect("apply");
    assert!(
        matches!(
            out,
            ApplyOutcome::Pending {
                version: 2,
                previous: 1,
                ..
            }
        ),
        "{out:?}"
    );
    let err = ch
        .apply(&all_steps("c"), cli(), None, false)
        .await
        .expect_err("refused");
    let text = err.to_string();
    assert!(
        text.starts_with("version 2 is pending confirmation until "),
        "{text}"
    );
    assert!(text.ends_with(" UTC; confirm or roll back first"), "{text}");
    assert_eq!(
        ch.store().list().len(),
        2,
        "the refused change is not stored"
    );
    assert_eq!(
        ch.store().pending().map(|p| (p.version, p.previous)),
        Some((2, 1))
    );
    assert_eq!(
        ch.store().current(),
        Some(1),
        "current stays the confirmed version"
    );
}

/// Waits for the rollback event of `version`; returns when it came.
async fn rolled_back(
    events: &mut tokio::sync::broadcast::Receiver<parvis::change::Event>,
    version: u64,
) -> SystemTime {
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .expect("a rollback within 10 s")
            .expect("event");
        if ev.kind == EventKind::RolledBack && ev.version == Some(version) {
            assert!(ev.message.contains("no confirmation by"), "{}", ev.message);
            return ev.time;
        }
    }
}

fn assert_near_deadline(at: SystemTime, deadline: SystemTime) {
    let late = at
        .duration_since(deadline)
        .expect("not before the deadline");
    assert!(
        late < Duration::from_secs(1),
        "rolled back {late:?} after the deadline"
    );
}

#[tokio::test]
async fn no_confirm_rolls_back_within_a_second_of_the_deadline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ch, rec) = running_a(dir.path()).await;
    let mut events = ch.subscribe();
    let out = ch
        .apply(&all_steps("b"), cli(), Some(Duration::from_secs(2)), false)
        .await
        .expect("apply");
    let ApplyOutcome::Pending { deadline, .. } = out else {
        panic!("{out:?}")
    };
    assert_eq!(
        rec.take(),
        ["check:b", "firewall:b", "net:b", "forwarder:b"]
    );
    let at = rolled_back(&mut events, 2).await;
    assert_near_deadline(at, deadline);
    assert_eq!(rec.take(), ["firewall:a", "net:a", "forwarder:a"]);
    assert_eq!(state(&ch, 2), VersionState::RolledBack);
    assert_eq!(ch.store().pending(), None);
    assert_eq!(ch.store().current(), Some(1));
    assert_eq!(ch.running().await.map(|(v, _)| v), Some(1));
    // Nothing pending any more: a new change goes through.
    ch.apply(&all_steps("c"), cli(), None, false)
        .await
        .expect("apply after rollback");
}

#[tokio::test]
async fn confirm_cancels_the_rollback() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ch, rec) = running_a(dir.path()).await;
    ch.apply(&all_steps("b"), cli(), Some(Duration::from_secs(2)), false)
        .await
        .expect("apply");
    rec.take();
    assert_eq!(ch.confirm().await.expect("confirm"), 2);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        rec.take(),
        Vec::<String>::new(),
        "no rollback after confirm"
    );
    assert_eq!(state(&ch, 2), VersionState::Confirmed);
    assert_eq!(ch.store().current(), Some(2));
    assert_eq!(ch.store().pending(), None);
    assert!(matches!(
        ch.confirm().await,
        Err(ChangeError::NothingPending)
    ));
}

#[tokio::test]
async fn a_pending_change_survives_a_restart_and_still_rolls_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ch, _rec) = running_a(dir.path()).await;
    let out = ch
        .apply(&all_steps("b"), cli(), Some(Duration::from_secs(3)), false)
        .await
        .expect("apply");
    let ApplyOutcome::Pending { deadline, .. } = out else {
        panic!("{out:?}")
    };
    drop(ch);
    let (ch, rec) = engine(dir.path());
    let mut events = ch.subscribe();
    ch.startup(Some(&Knobs::new("a").text()))
        .await
        .expect("startup");
    // The pending version is put back in force whole, and the file (unchanged) is not re-applied.
    assert_eq!(
        rec.take(),
        ["check:b", "firewall:b", "net:b", "forwarder:b"]
    );
    let p = ch.pending().await.expect("re-armed");
    assert_eq!((p.version, p.previous), (2, 1));
    let at = rolled_back(&mut events, 2).await;
    assert_near_deadline(at, deadline);
    assert_eq!(rec.take(), ["firewall:a", "net:a", "forwarder:a"]);
    assert_eq!(state(&ch, 2), VersionState::RolledBack);
}

#[tokio::test]
async fn a_deadline_passed_while_down_rolls_back_at_startup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ch, _rec) = running_a(dir.path()).await;
    ch.apply(&all_steps("b"), cli(), Some(Duration::from_secs(1)), false)
        .await
        .expect("apply");
    drop(ch);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (ch, rec) = engine(dir.path());
    ch.startup(None).await.expect("startup");
    assert_eq!(rec.take(), ["firewall:a", "net:a", "forwarder:a"]);
    assert_eq!(ch.running().await.map(|(v, _)| v), Some(1));
    let meta = ch.store().get(2).expect("v2").0;
    assert_eq!(meta.state, VersionState::RolledBack);
    assert!(
        meta.reason
            .as_deref()
            .is_some_and(|r| r.contains("while the daemon was down")),
        "{meta:?}"
    );
    assert_eq!(ch.store().pending(), None);
}
