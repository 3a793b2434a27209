//! The change engine's side of the pair's config sync, with two engines
//! over real stores on disk joined in-process (the `Direct` hook calls the
//! other engine's replica entry points, as the sync server does): numbers
//! above both histories, a refusal by the peer stores nothing, confirm and
//! rollback reach the peer, an older version is only recorded, a number
//! holding another config is a clash, and a re-issue.

mod change_support;

use std::sync::Arc;
use std::time::Duration;

use change_support::{cli, running_a, state, Knobs};
use futures::future::BoxFuture;
use parvis::change::{ApplyOutcome, ChangeError, Changer, Published, Replication};
use parvis::store::VersionState;

/// The hook of engine A, reaching engine B directly.
struct Direct(Changer);

impl Replication for Direct {
    fn peer(&self) -> String {
        "b".into()
    }

    fn prepare<'a>(&'a self, text: &'a str) -> BoxFuture<'a, Result<Option<u64>, String>> {
        Box::pin(async move { self.0.validate_replica(text).await.map(Some) })
    }

    fn publish(&self, what: Published) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            match what {
                Published::Version { meta, text, within } => {
                    self.0
                        .apply_replica(meta, &text, within)
                        .await
                        .expect("b applies");
                }
                Published::Confirmed(v) => self.0.confirm_replica(v).await.expect("b confirms"),
                Published::RolledBack(v) => {
                    self.0.rollback_replica(v, "a").await.expect("b rolls back")
                }
            }
        })
    }
}

async fn pair() -> (Changer, Changer, [tempfile::TempDir; 2]) {
    let dirs = [
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    ];
    let (a, _) = running_a(dirs[0].path()).await;
    let (b, _) = running_a(dirs[1].path()).await;
    assert!(a.set_replication(Arc::new(Direct(b.clone()))));
    (a, b, dirs)
}

fn text(servers: &'static str) -> String {
    let mut k = Knobs::new("a");
    k.servers = servers;
    k.text()
}

#[tokio::test]
async fn a_version_takes_a_number_above_both_histories_on_both() {
    let (a, b, _d) = pair().await;
    // b has versions a never saw (copied history, say): numbers 2 to 4.
    for n in 2..=4 {
        let (mut meta, t) = b.store().get(1).expect("v1");
        meta.version = n;
        meta.state = VersionState::Failed;
        b.record_replica(&meta, &t).expect("record");
    }
    let out = a
        .apply(&text("\"10.0.0.12:443\""), cli(), None, false)
        .await
        .expect("apply");
    assert_eq!(out.version(), 5);
    assert_eq!(b.snapshot().running, 5);
    assert_eq!(b.snapshot().text, a.snapshot().text);
    assert_eq!(state(&b, 5), VersionState::Confirmed);
    assert_eq!(b.store().current(), Some(5));
}

#[tokio::test]
async fn a_refusal_by_the_peer_stores_nothing() {
    let (a, b, _d) = pair().await;
    b.apply(
        &text("\"10.0.0.13:443\""),
        cli(),
        Some(Duration::from_secs(60)),
        false,
    )
    .await
    .expect("b's own pending change");
    let err = a
        .apply(&text("\"10.0.0.12:443\""), cli(), None, false)
        .await
        .expect_err("b has a change pending");
    assert!(matches!(err, ChangeError::PeerRefused { .. }), "{err}");
    assert!(err.to_string().contains("pending"), "{err}");
    assert_eq!(a.store().list().len(), 1, "nothing stored on a");
    assert_eq!(a.snapshot().running, 1);
}

#[tokio::test]
async fn confirm_and_rollback_reach_the_peer() {
    let (a, b, _d) = pair().await;
    let within = Some(Duration::from_secs(60));
    let out = a
        .apply(&text("\"10.0.0.12:443\""), cli(), within, false)
        .await
        .expect("apply");
    assert!(
        matches!(out, ApplyOutcome::Pending { version: 2, .. }),
        "{out:?}"
    );
    assert_eq!(b.pending().await.map(|p| p.version), Some(2));
    a.rollback(None).await.expect("rollback");
    assert_eq!(b.pending().await, None);
    assert_eq!(
        (b.snapshot().running, state(&b, 2)),
        (1, VersionState::RolledBack)
    );
    a.apply(&text("\"10.0.0.14:443\""), cli(), within, false)
        .await
        .expect("apply");
    a.confirm().await.expect("confirm");
    assert_eq!((b.store().current(), b.pending().await), (Some(3), None));
}

#[tokio::test]
async fn an_older_version_is_recorded_and_a_clash_refused() {
    let (a, b, _d) = pair().await;
    a.apply(&text("\"10.0.0.12:443\""), cli(), None, false)
        .await
        .expect("apply");
    a.apply(&text("\"10.0.0.13:443\""), cli(), None, false)
        .await
        .expect("apply");
    // Version 2 arriving late on b (already at 3): history only.
    let (meta2, t2) = a.store().get(2).expect("v2");
    let out = b.apply_replica(meta2, &t2, None).await.expect("late");
    assert_eq!(out, ApplyOutcome::Unchanged { version: 3 });
    assert_eq!(b.snapshot().running, 3);
    // Another config under number 3: a clash, nothing changes.
    let (mut meta3, _) = a.store().get(3).expect("v3");
    meta3.version = 3;
    let err = b
        .apply_replica(meta3, &text("\"10.0.0.99:443\""), None)
        .await
        .expect_err("clash");
    assert!(
        matches!(err, ChangeError::Clash { version: 3, .. }),
        "{err}"
    );
    // A re-issue stores the running text again, above `min`.
    let meta = b
        .reissue(10, "test".into())
        .await
        .expect("reissue")
        .expect("meta");
    assert_eq!(meta.version, 10);
    assert_eq!((b.store().current(), b.snapshot().running), (Some(10), 10));
    assert_eq!(
        b.store().get(10).expect("v10").1,
        b.store().get(3).expect("v3").1
    );
}

/// A node rebuilt from its config file (its whole history: the one
/// first-boot version) gives that version's number up to the peer's
/// history once it runs the peer's version; the running version is never
/// replaced, and a node with a history of its own is not fresh.
#[tokio::test]
async fn a_fresh_node_adopts_the_peers_history_but_never_over_its_running_version() {
    let dirs = [
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    ];
    let (a, _) = running_a(dirs[0].path()).await;
    a.apply(&text("\"10.0.0.12:443\""), cli(), None, false)
        .await
        .expect("apply");
    a.apply(&text("\"10.0.0.13:443\""), cli(), None, false)
        .await
        .expect("apply");
    assert!(!a.is_fresh(), "a has a history of its own");
    let (b, _) = change_support::engine(dirs[1].path());
    let exported = a.store().get(2).expect("v2").1;
    b.startup(Some(&exported)).await.expect("first boot of b");
    assert!(b.is_fresh(), "b's history is its first-boot version");

    let (meta1, t1) = a.store().get(1).expect("a's v1");
    let err = b.adopt_replica(&meta1, &t1).expect_err("running");
    assert!(
        matches!(err, ChangeError::Clash { version: 1, .. }),
        "{err}"
    );
    assert_eq!(b.store().get(1).expect("b's v1").1, exported, "unchanged");

    let (meta3, t3) = a.store().get(3).expect("a's v3");
    b.apply_replica(meta3, &t3, None)
        .await
        .expect("b follows a");
    b.adopt_replica(&meta1, &t1).expect("adopted");
    let (m, t) = b.store().get(1).expect("b's v1");
    assert_eq!((m.author, t), (meta1.author, t1), "a's version 1 on b");
    assert_eq!(b.snapshot().running, 3);
    assert!(!b.is_fresh());
}
