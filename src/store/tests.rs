//! Unit tests of the store: round trips, crash leftovers, corrupt files, pruning.

use super::*;

fn origin() -> Origin {
    Origin {
        author: Author::Ui("alice".into()),
        source: Some("198.51.100.7".parse().expect("ip")),
        comment: "more ingress".into(),
        sessions: Vec::new(),
    }
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    (dir, store)
}

#[test]
fn append_get_list_state_current_pending() {
    let (_dir, s) = store();
    assert_eq!(s.list(), vec![]);
    assert_eq!(s.current(), None);
    let a = s
        .append("# a\n", &origin(), VersionState::Pending)
        .expect("append");
    let b = s
        .append("# b\n", &Origin::new(Author::Cli), VersionState::Pending)
        .expect("append");
    assert_eq!((a, b), (1, 2));
    let (meta, text) = s.get(1).expect("get");
    assert_eq!(text, "# a\n");
    assert_eq!(meta.author.to_string(), "ui:alice");
    assert_eq!(meta.comment, "more ingress");
    assert_eq!(meta.source, origin().source);
    assert!(meta.time.ends_with('Z'), "{}", meta.time);
    s.set_state(1, VersionState::Failed, Some("nft said no".into()))
        .expect("state");
    let list = s.list();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].state, VersionState::Failed);
    assert_eq!(list[0].reason.as_deref(), Some("nft said no"));
    s.set_current(2).expect("current");
    assert_eq!(s.current(), Some(2));
    let p = Pending::new(2, 1, std::time::SystemTime::now());
    s.set_pending(Some(p)).expect("pending");
    assert_eq!(s.pending(), Some(p));
    s.set_pending(None).expect("clear");
    assert_eq!(s.pending(), None);
    assert!(matches!(s.get(9), Err(StoreError::NotFound(9))));
}

#[test]
fn diff_is_unified() {
    let (_dir, s) = store();
    s.append("a = 1\nb = 2\n", &origin(), VersionState::Confirmed)
        .expect("append");
    s.append("a = 1\nb = 3\n", &origin(), VersionState::Confirmed)
        .expect("append");
    let d = s.diff(1, 2).expect("diff");
    assert!(d.contains("--- version 1"), "{d}");
    assert!(d.contains("-b = 2") && d.contains("+b = 3"), "{d}");
}

#[test]
fn crash_leftovers_are_ignored_and_cleaned() {
    let (dir, s) = store();
    s.append("x = 1\n", &origin(), VersionState::Confirmed)
        .expect("append");
    s.set_current(1).expect("current");
    let cfg = dir.path().join("config");
    // A temp file cut short by a crash, named like our temp files.
    fs::write(
        cfg.join(".000002.meta.json.tmp.99.0"),
        b"{\"version\": 2, \"ti",
    )
    .expect("w");
    // A text whose meta was never written (crash between the two writes).
    fs::write(cfg.join("000002.toml"), b"y = 2\n").expect("w");
    // A corrupt meta and a meta whose number does not match its name.
    fs::write(cfg.join("000003.toml"), b"z = 3\n").expect("w");
    fs::write(cfg.join("000003.meta.json"), b"{ not json").expect("w");
    let meta1 = fs::read(cfg.join("000001.meta.json")).expect("r");
    fs::write(cfg.join("000004.toml"), b"w = 4\n").expect("w");
    fs::write(cfg.join("000004.meta.json"), &meta1).expect("w");
    let s = Store::open(dir.path()).expect("reopen");
    assert!(
        !cfg.join(".000002.meta.json.tmp.99.0").exists(),
        "temp file removed"
    );
    let versions: Vec<u64> = s.list().iter().map(|m| m.version).collect();
    assert_eq!(versions, vec![1]);
    assert_eq!(s.current(), Some(1));
    // The next number skips every number a file already used.
    assert_eq!(
        s.append("v = 5\n", &origin(), VersionState::Pending)
            .expect("append"),
        5
    );
}

#[test]
fn corrupt_pointers_are_ignored() {
    let (dir, s) = store();
    let cfg = dir.path().join("config");
    fs::write(cfg.join("current"), b"seven\n").expect("w");
    fs::write(cfg.join("pending.json"), b"{\"version\":").expect("w");
    assert_eq!(s.current(), None);
    assert_eq!(s.pending(), None);
}

#[test]
fn prune_keeps_the_last_versions_and_current() {
    let (_dir, s) = store();
    s.append("first\n", &origin(), VersionState::Confirmed)
        .expect("append");
    s.set_current(1).expect("current");
    for i in 0..KEEP + 5 {
        s.append(&format!("n = {i}\n"), &origin(), VersionState::Failed)
            .expect("append");
    }
    let list = s.list();
    assert_eq!(list.len(), KEEP);
    assert_eq!(list[0].version, 1, "current survives pruning");
    assert_eq!(list[1].version, 8, "206 stored, 6 oldest pruned");
    assert_eq!(list[KEEP - 1].version, (KEEP + 6) as u64);
}
