//! The change engine end to end over a real store on disk, with a test
//! double for the kernel steps (see `change_support`): order of steps, undo,
//! the safety net, rollback, SIGHUP reload, interrupted applies. Deadlines
//! and restarts are in `change_confirm.rs`, SIGKILL in `change_crash.rs`.

mod change_support;

use std::time::{Duration, Instant, SystemTime};

use change_support::{all_steps, cli, engine, running_a, state, Knobs};
use parvis::change::{ApplyOutcome, ChangeError, EventKind, Step};
use parvis::store::{Author, Origin, VersionState};

#[tokio::test]
async fn first_boot_then_only_the_needed_steps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ch, rec) = running_a(dir.path()).await;
    assert_eq!(ch.store().get(1).expect("v1").0.author, Author::FirstBoot);
    let mut k = Knobs::new("a");
    k.servers = "\"10.0.0.11:443\", \"10.0.0.12:443\"";
    let out = ch
        .apply(&k.text(), cli(), None, false)
        .await
        .expect("apply");
    let ApplyOutcome::Applied {
        version: 2,
        changes,
    } = out
    else {
        panic!("{out:?}")
    };
    assert_eq!(changes.len(), 1);
    assert_eq!(
        changes[0].to_string(),
        "backend ingress: server 10.0.0.12:443 added"
    );
    assert_eq!(rec.take(), ["check:a", "forwarder:a"]);
    k.allow = "\"198.51.100.0/24\", \"203.0.113.0/24\"";
    ch.apply(&k.text(), cli(), None, false)
        .await
        .expect("apply");
    assert_eq!(rec.take(), ["check:a", "firewall:a"]);
    k.mtu = 1400;
    ch.apply(&k.text(), cli(), None, false)
        .await
        .expect("apply");
    // The MTU renders no rule: the rulesets compare equal, so only the
    // interfaces step runs (the firewall step is decided by the render).
    assert_eq!(rec.take(), ["check:a", "net:a"]);
    // The same text again changes nothing and stores nothing.
    let out = ch
        .apply(&k.text(), cli(), None, false)
        .await
        .expect("apply");
    assert_eq!(out, ApplyOutcome::Unchanged { version: 4 });
    assert_eq!(rec.take(), Vec::<String>::new());
    assert_eq!(ch.store().current(), Some(4));
    assert_eq!(ch.store().list().len(), 4);
}

#[tokio::test]
async fn a_failed_step_is_undone_in_reverse_and_the_old_version_stays() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ch, rec) = running_a(dir.path()).await;
    let mut events = ch.subscribe();
    rec.fail_at(Step::Forwarder, "b");
    let err = ch
        .apply(&all_steps("b"), cli(), None, false)
        .await
        .expect_err("must fail");
    // The failed step is re-run with the old config too: it may have stopped halfway.
    assert_eq!(
        rec.take(),
        [
            "check:b",
            "firewall:b",
            "net:b",
            "forwarder:b",
            "forwarder:a",
            "net:a",
            "firewall:a"
        ]
    );
    let ChangeError::StepFailed {
        version: 2,
        step: Step::Forwarder,
        ref message,
        ref undo_failures,
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!(message, "forwarder refused b (test double)");
    assert!(undo_failures.is_empty());
    let text = err.to_string();
    assert!(
        text.contains("version 2 failed at the listeners step: forwarder refused b"),
        "{text}"
    );
    let meta = ch.store().get(2).expect("v2").0;
    assert_eq!(meta.state, VersionState::Failed);
    assert!(
        meta.reason
            .as_deref()
            .is_some_and(|r| r.contains("refused b")),
        "{meta:?}"
    );
    assert_eq!(ch.store().current(), Some(1));
    assert_eq!(
        ch.running()
            .await
            .map(|(v, c)| (v, c.appliance.name.clone())),
        Some((1, "a".into()))
    );
    let ev = events.recv().await.expect("event");
    assert_eq!((ev.kind, ev.version), (EventKind::Failed, Some(2)));

    // Failing the second step undoes it and the first only.
    rec.fail_at(Step::Net, "c");
    ch.apply(&all_steps("c"), cli(), None, false)
        .await
        .expect_err("must fail");
    assert_eq!(
        rec.take(),
        ["check:c", "firewall:c", "net:c", "net:a", "firewall:a"]
    );
    // A refused check touches nothing.
    rec.fail_at(Step::Check, "d");
    let err = ch
        .apply(&all_steps("d"), cli(), None, false)
        .await
        .expect_err("must fail");
    assert!(
        matches!(err, ChangeError::CheckFailed { version: 4, .. }),
        "{err:?}"
    );
    assert_eq!(rec.take(), ["check:d"]);
    assert_eq!(state(&ch, 4), VersionState::Failed);
}

#[tokio::test]
async fn an_invalid_config_is_refused_and_not_stored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ch, rec) = running_a(dir.path()).await;
    let bad = Knobs::new("b")
        .text()
        .replace("protocol = \"tls\"", "protocol = \"quic\"");
    let err = ch
        .apply(&bad, cli(), None, false)
        .await
        .expect_err("invalid");
    assert!(matches!(err, ChangeError::Invalid(_)), "{err:?}");
    assert_eq!(rec.take(), Vec::<String>::new());
    assert_eq!(ch.store().list().len(), 1);
}

#[tokio::test]
async fn the_safety_net_refuses_cutting_the_callers_access_unless_forced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ch, rec) = running_a(dir.path()).await;
    let ui = |ip: &str| Origin {
        author: Author::Ui("admin".into()),
        source: Some(ip.parse().expect("ip")),
        comment: String::new(),
        sessions: Vec::new(),
    };
    let mut cut = Knobs::new("b");
    cut.allow = "\"203.0.113.0/24\"";
    let err = ch
        .apply(&cut.text(), ui("198.51.100.7"), None, false)
        .await
        .expect_err("refused");
    let text = err.to_string();
    assert!(
        text.contains("admin.allow would no longer include 198.51.100.7"),
        "{text}"
    );
    assert_eq!(rec.take(), Vec::<String>::new(), "nothing touched");
    assert_eq!(ch.store().list().len(), 1, "nothing stored");
    let mut ssh = Knobs::new("b");
    ssh.ssh_port = 2200;
    let err = ch
        .apply(&ssh.text(), ui("198.51.100.7"), None, false)
        .await
        .expect_err("refused");
    assert!(
        err.to_string()
            .contains("SSH would move from port 22 to 2200"),
        "{err}"
    );
    // From an address the old config did not let in, there is nothing to cut.
    let out = ch
        .apply(&ssh.text(), ui("127.0.0.1"), None, false)
        .await
        .expect("applies");
    assert!(matches!(out, ApplyOutcome::Applied { .. }), "{out:?}");
    ch.rollback(Some(1)).await.expect("back to a");
    // Forced: applied, but only with a confirmation deadline (60 s by default).
    let before = SystemTime::now();
    let out = ch
        .apply(&cut.text(), ui("198.51.100.7"), None, true)
        .await
        .expect("forced");
    let ApplyOutcome::Pending { deadline, .. } = out else {
        panic!("forced needs confirmation: {out:?}")
    };
    let wait = deadline.duration_since(before).expect("future");
    assert!(
        wait > Duration::from_secs(59) && wait < Duration::from_secs(62),
        "{wait:?}"
    );
    ch.rollback(None).await.expect("undo the pending change");
    let out = ch
        .apply(
            &cut.text(),
            ui("198.51.100.7"),
            Some(Duration::from_secs(5)),
            true,
        )
        .await
        .expect("forced");
    let ApplyOutcome::Pending { deadline, .. } = out else {
        panic!("{out:?}")
    };
    assert!(deadline.duration_since(SystemTime::now()).expect("future") <= Duration::from_secs(5));
}

#[tokio::test]
async fn rollback_goes_back_as_a_new_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ch, rec) = running_a(dir.path()).await;
    ch.apply(&all_steps("b"), cli(), None, false)
        .await
        .expect("b");
    rec.take();
    let out = ch.rollback(None).await.expect("rollback");
    assert!(
        matches!(out, ApplyOutcome::Applied { version: 3, .. }),
        "{out:?}"
    );
    assert_eq!(
        rec.take(),
        ["check:a", "firewall:a", "net:a", "forwarder:a"]
    );
    let (meta, text) = ch.store().get(3).expect("v3");
    assert_eq!(meta.author, Author::Rollback);
    assert_eq!(meta.comment, "rollback to version 1");
    assert_eq!(text, Knobs::new("a").text());
    assert_eq!(ch.store().current(), Some(3));
    ch.rollback(Some(2)).await.expect("rollback to 2");
    assert_eq!(
        ch.running()
            .await
            .map(|(v, c)| (v, c.appliance.name.clone())),
        Some((4, "b".into()))
    );
    assert!(matches!(
        ch.rollback(Some(99)).await,
        Err(ChangeError::Store(_))
    ));
    // With a change pending, rollback undoes it at once.
    ch.apply(&all_steps("c"), cli(), Some(Duration::from_secs(60)), false)
        .await
        .expect("c");
    let t = Instant::now();
    let out = ch.rollback(None).await.expect("undo pending");
    assert_eq!(
        out,
        ApplyOutcome::RolledBack {
            undone: 5,
            version: 4
        }
    );
    assert!(t.elapsed() < Duration::from_secs(1));
    assert_eq!(state(&ch, 5), VersionState::RolledBack);
    let d = ch.store().diff(4, 5).expect("diff");
    assert!(
        d.contains("-name = \"b\"") && d.contains("+name = \"c\""),
        "{d}"
    );
}

#[tokio::test]
async fn sighup_reload_and_file_edits_while_down() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ch, rec) = running_a(dir.path()).await;
    let file = dir.path().join("parvis.toml");
    std::fs::write(&file, all_steps("b")).expect("write");
    let out = ch.reload_file(&file, Vec::new()).await.expect("reload");
    assert_eq!(out.version(), 2);
    assert_eq!(ch.store().get(2).expect("v2").0.author, Author::Sighup);
    rec.take();
    // Rolled back by the UI: a restart with the same file keeps the rollback…
    ch.rollback(None).await.expect("rollback");
    drop(ch);
    let (ch, rec) = engine(dir.path());
    assert_eq!(
        ch.startup(Some(&all_steps("b"))).await.expect("startup"),
        None
    );
    assert_eq!(
        rec.take(),
        ["check:a", "firewall:a", "net:a", "forwarder:a"]
    );
    drop(ch);
    // …but a file edited while the daemon was down is applied, author `startup`.
    let (ch, rec) = engine(dir.path());
    let out = ch.startup(Some(&all_steps("c"))).await.expect("startup");
    assert_eq!(out.map(|o| o.version()), Some(4));
    assert_eq!(
        rec.take(),
        [
            "check:a",
            "firewall:a",
            "net:a",
            "forwarder:a",
            "check:c",
            "firewall:c",
            "net:c",
            "forwarder:c"
        ]
    );
    assert_eq!(ch.store().get(4).expect("v4").0.author, Author::Startup);
    let err = ch
        .reload_file(&dir.path().join("missing.toml"), Vec::new())
        .await
        .expect_err("no file");
    assert!(err.to_string().contains("missing.toml"), "{err}");
}

/// A SIGHUP has no caller: the peers of the established admin and SSH
/// connections stand for it, and a file that cuts one off is refused.
#[tokio::test]
async fn sighup_refuses_a_file_that_cuts_an_open_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ch, rec) = running_a(dir.path()).await;
    let file = dir.path().join("parvis.toml");
    let mut cut = Knobs::new("b");
    cut.allow = "\"203.0.113.0/24\"";
    std::fs::write(&file, cut.text()).expect("write");
    let admin: std::net::IpAddr = "198.51.100.7".parse().expect("ip");
    let outsider: std::net::IpAddr = "192.0.2.1".parse().expect("ip");
    let err = ch
        .reload_file(&file, vec![outsider, admin])
        .await
        .expect_err("refused");
    let text = err.to_string();
    assert!(
        text.contains("198.51.100.7, the address of an established admin or SSH connection"),
        "{text}"
    );
    assert_eq!(rec.take(), Vec::<String>::new(), "nothing touched");
    assert_eq!(ch.store().list().len(), 1, "nothing stored");
    // No session from a cut address (loopback, an outsider): applied.
    let lo: std::net::IpAddr = "127.0.0.1".parse().expect("ip");
    let out = ch
        .reload_file(&file, vec![lo, outsider])
        .await
        .expect("applies");
    assert!(
        matches!(out, ApplyOutcome::Applied { version: 2, .. }),
        "{out:?}"
    );
}

#[tokio::test]
async fn an_apply_interrupted_by_a_crash_is_marked_failed_at_startup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ch, _rec) = running_a(dir.path()).await;
    // What a SIGKILL between storing version 2 and finishing its steps leaves.
    ch.store()
        .append(&all_steps("b"), &cli(), VersionState::Pending)
        .expect("append");
    drop(ch);
    let (ch, rec) = engine(dir.path());
    ch.startup(None).await.expect("startup");
    assert_eq!(
        rec.take(),
        ["check:a", "firewall:a", "net:a", "forwarder:a"]
    );
    let meta = ch.store().get(2).expect("v2").0;
    assert_eq!(meta.state, VersionState::Failed);
    assert!(
        meta.reason
            .as_deref()
            .is_some_and(|r| r.starts_with("interrupted")),
        "{meta:?}"
    );
}

#[tokio::test]
async fn a_rollback_that_would_cut_the_caller_off_is_refused_like_an_apply() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Version 1 lets in 198.51.100.0/24 only.
    let (ch, rec) = running_a(dir.path()).await;
    let mut k = Knobs::new("a");
    k.allow = "\"203.0.113.0/24\"";
    let caller: std::net::IpAddr = "203.0.113.5".parse().expect("ip");
    let mut from = Origin::new(Author::Ui("admin".into()));
    from.source = Some(caller);
    // The same config as an apply is refused from the caller...
    let mut wide = Knobs::new("a");
    wide.allow = "\"198.51.100.0/24\", \"203.0.113.0/24\"";
    ch.apply(&wide.text(), from.clone(), None, false)
        .await
        .expect("widen");
    ch.apply(&k.text(), cli(), None, false)
        .await
        .expect("narrow to the caller's network");
    rec.take();
    // ...and going back to version 1 (no 203.0.113.0/24) is refused too.
    let out = ch.rollback_from(Some(1), Some(caller)).await;
    assert!(
        matches!(out, Err(ChangeError::LockOut { ref reason }) if reason.contains("203.0.113.5")),
        "{out:?}"
    );
    assert_eq!(rec.take(), Vec::<String>::new(), "nothing applied");
    assert_eq!(ch.store().current(), Some(3));
    // From an address version 1 lets in, it goes through.
    let inside: std::net::IpAddr = "198.51.100.7".parse().expect("ip");
    let out = ch.rollback_from(Some(2), Some(inside)).await;
    assert!(matches!(out, Ok(ApplyOutcome::Applied { .. })), "{out:?}");
}
