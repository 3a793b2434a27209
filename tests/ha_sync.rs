//! The pair's config sync with two real daemons in two namespaces: a
//! change on either node in force on both with the same number, an
//! unconfirmed change rolled back on both, confirm from the other node, a
//! node that was down catching up, a wrong-key peer and an intruder
//! refused, a divergence flagged, a partition in which both changed
//! resolved the same way on both, a pending change taken by a returning
//! node, and bans carried across.

mod pair_support;

use std::time::Duration;

use pair_support::*;

fn versions(h: &[(u64, String)]) -> Vec<u64> {
    h.iter().map(|(v, _)| *v).collect()
}

#[test]
fn a_change_on_either_node_is_in_force_on_both_with_the_same_number() {
    let p = pair();
    let took = within(10, || {
        p.ha(0)["peer"]["reachable"] == true && p.ha(1)["peer"]["reachable"] == true
    });
    assert!(
        took.is_some(),
        "the nodes never saw each other: {} {}",
        p.ha(0),
        p.ha(1)
    );
    assert_eq!(
        p.running(0).0,
        p.running(1).0,
        "both start from the same file"
    );

    let (out, apply_a) = p.apply(0, "a1.toml", &forward(8081), &[]);
    assert!(out.status.success(), "{out:?}");
    let v1 = p.running(0).0;
    assert_eq!(p.running(1).0, v1, "in force on b when apply returns");
    assert!(
        p.nft(1).contains("8081"),
        "b's firewall has the new forward"
    );

    let (out, apply_b) = p.apply(1, "b1.toml", &(forward(8081) + &forward(8082)), &[]);
    assert!(out.status.success(), "{out:?}");
    let v2 = p.running(1).0;
    assert_eq!(v2, v1 + 1);
    assert_eq!(p.running(0).0, v2);
    assert!(p.nft(0).contains("8082"), "a's firewall has b's forward");
    assert_eq!(p.history(0), p.history(1), "same numbers, same states");
    eprintln!("FIGURE apply on a, in force on both: {apply_a:?}; apply on b, in force on both: {apply_b:?}");

    assert!(!p.ha(0)["diverged"].as_bool().unwrap_or(true));
    let metrics = p.ns[0]
        .run(&["curl", "-s", "http://127.0.0.1:9108/metrics"])
        .expect("metrics");
    let m = String::from_utf8_lossy(&metrics.stdout);
    assert!(
        m.contains(&format!("parvis_ha_peer_version{{peer=\"b\"}} {v2}")),
        "{m}"
    );
    assert!(m.contains("parvis_ha_config_diverged 0"), "{m}");

    // The key is never shown: not in the config text, not in a version.
    for path in ["/api/v1/config", &format!("/api/v1/history/{v2}")] {
        let out = p.ns[0]
            .run(&[
                "curl",
                "-s",
                "--unix-socket",
                &p.nodes[0].socket.to_string_lossy(),
                &format!("http://parvis{path}"),
            ])
            .expect("curl");
        let body = String::from_utf8_lossy(&out.stdout);
        assert!(
            body.contains("[ha]") && body.contains("***"),
            "{path}: {body}"
        );
        assert!(!body.contains(KEY), "{path} shows the key: {body}");
    }
}

#[test]
fn an_unconfirmed_change_rolls_back_on_both_and_confirm_reaches_the_peer() {
    let p = pair();
    assert!(within(10, || p.ha(0)["peer"]["reachable"] == true).is_some());
    let before = p.running(0).0;
    let (out, _) = p.apply(
        0,
        "pending.toml",
        &forward(8083),
        &["--confirm-within", "3"],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        p.running(1),
        (before + 1, Some(before + 1)),
        "pending on b too"
    );
    assert!(p.nft(1).contains("8083"));
    let back = within(8, || {
        p.running(0) == (before, None) && p.running(1) == (before, None)
    });
    assert!(
        back.is_some(),
        "both roll back: {:?} {:?}",
        p.running(0),
        p.running(1)
    );
    assert!(!p.nft(1).contains("8083"), "b's firewall is back too");
    let rolled = |i| {
        p.history(i)
            .iter()
            .any(|(v, s)| *v == before + 1 && s == "rolled-back")
    };
    assert!(
        rolled(0) && rolled(1),
        "{:?} {:?}",
        p.history(0),
        p.history(1)
    );

    // Confirm on b, the other node, reaches a.
    let (out, _) = p.apply(
        0,
        "pending2.toml",
        &forward(8084),
        &["--confirm-within", "30"],
    );
    assert!(out.status.success(), "{out:?}");
    let v = before + 2;
    assert_eq!(p.running(0), (v, Some(v)));
    assert_eq!(p.running(1), (v, Some(v)));
    let ok = p.cli(1, &["confirm"]);
    assert!(ok.status.success(), "{ok:?}");
    assert!(
        within(3, || p.running(0) == (v, None)).is_some(),
        "{:?}",
        p.running(0)
    );
    assert_eq!(p.running(1), (v, None));
    assert_eq!(p.history(0), p.history(1));
}

#[test]
fn a_node_that_was_down_is_flagged_and_catches_up_when_it_returns() {
    let mut p = pair();
    assert!(within(10, || p.ha(0)["peer"]["reachable"] == true).is_some());
    p.kill(1);
    let (out, took) = p.apply(0, "alone.toml", &forward(8085), &[]);
    assert!(
        out.status.success(),
        "the apply goes on without the peer: {out:?}"
    );
    assert!(
        took < Duration::from_secs(5),
        "not held up by the dead peer: {took:?}"
    );
    let v = p.running(0).0;
    assert!(within(5, || p.ha(0)["peer"]["reachable"] == false).is_some());
    let w = p.json(0, &["status"])["warnings"].to_string();
    assert!(w.contains("peer b is not reachable"), "{w}");
    // b was last seen on the version before: flagged, in the three views.
    let ha = p.ha(0);
    assert_eq!(
        (
            ha["diverged"].as_bool(),
            ha["peer"]["config_version"].as_u64()
        ),
        (Some(true), Some(v - 1)),
        "{ha}"
    );
    let text = String::from_utf8_lossy(&p.cli(0, &["status"]).stdout).into_owned();
    assert!(
        text.contains("DIVERGED") && text.contains("config versions diverge"),
        "{text}"
    );
    let metrics = p.ns[0]
        .run(&["curl", "-s", "http://127.0.0.1:9108/metrics"])
        .expect("metrics");
    assert!(String::from_utf8_lossy(&metrics.stdout).contains("parvis_ha_config_diverged 1"));

    p.restart(1);
    let caught = within(10, || p.running(1).0 == v);
    assert!(caught.is_some(), "b never caught up: {:?}", p.running(1));
    eprintln!("FIGURE node b back: in force on it {caught:?} after its control socket opened");
    assert!(p.nft(1).contains("8085"));
    assert_eq!(versions(&p.history(0)), versions(&p.history(1)));
    assert!(
        within(3, || p.ha(0)["diverged"] == false).is_some(),
        "{}",
        p.ha(0)
    );
    // Restarting b again keeps it there: its own (older) file does not win.
    p.kill(1);
    p.restart(1);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(p.running(1).0, v);
    assert_eq!(p.running(0).0, v);
}

#[test]
fn a_peer_with_another_key_is_refused_and_nothing_crosses() {
    let p = pair_with_keys(KEY, "0123456789abcdef-not-the-pairs-key");
    std::thread::sleep(Duration::from_secs(3));
    let ha = p.ha(0);
    assert_eq!(ha["peer"]["reachable"], false, "{ha}");
    let err = ha["peer"]["error"].as_str().unwrap_or("");
    assert!(err.contains("handshake") || err.contains("TLS"), "{ha}");
    let before = p.running(1).0;
    let (out, _) = p.apply(0, "x.toml", &forward(8086), &[]);
    assert!(out.status.success(), "{out:?}");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(p.running(1).0, before, "the wrong-key node took nothing");
    assert!(!p.nft(1).contains("8086"));
}

#[test]
fn a_host_on_the_internal_network_cannot_reach_the_sync_port() {
    let p = pair();
    assert!(within(10, || p.ha(0)["peer"]["reachable"] == true).is_some());
    let before = p.history(0);
    // TCP from the intruder is dropped by the firewall (no answer at all);
    // from b, the peer, the port answers.
    let x = p.ns[2]
        .command("socat")
        .args(["-T2", "-", "TCP:10.0.0.2:7443,connect-timeout=2"])
        .output()
        .expect("socat");
    assert!(!x.status.success(), "the intruder connected: {x:?}");
    let b = p.ns[1]
        .command("socat")
        .args(["-T1", "-", "TCP:10.0.0.2:7443,connect-timeout=2"])
        .output()
        .expect("socat");
    assert!(
        b.status.success(),
        "the peer's address reaches the port: {b:?}"
    );
    assert_eq!(p.history(0), before, "nothing pushed");
}

#[test]
fn a_partition_in_which_both_changed_resolves_the_same_way_on_both() {
    let p = pair();
    assert!(within(10, || p.ha(0)["peer"]["reachable"] == true).is_some());
    let base = p.running(0).0;
    p.link(1, false);
    assert!(within(5, || p.ha(0)["peer"]["reachable"] == false).is_some());
    // Both change while apart: the same number, two configs.
    let (a, _) = p.apply(0, "pa.toml", &forward(8087), &[]);
    let (b, _) = p.apply(1, "pb.toml", &forward(8088), &[]);
    assert!(a.status.success() && b.status.success(), "{a:?} {b:?}");
    assert_eq!((p.running(0).0, p.running(1).0), (base + 1, base + 1));
    p.link(1, true);
    // The later version (b's) wins, re-issued above both histories.
    let healed = within(10, || {
        let (ra, rb) = (p.running(0).0, p.running(1).0);
        ra == rb && ra > base + 1
    });
    assert!(healed.is_some(), "{:?} {:?}", p.running(0), p.running(1));
    assert!(p.nft(0).contains("8088") && !p.nft(0).contains("8087"));
    let ha = p.ha(0);
    assert!(
        ha["peer"]["conflict"]
            .as_str()
            .is_some_and(|c| c.contains("superseded")),
        "{ha}"
    );

    // A change pending on a while b is away: back, b takes it pending with
    // the time left, and a confirm reaches it.
    p.link(1, false);
    assert!(within(5, || p.ha(0)["peer"]["reachable"] == false).is_some());
    let (out, _) = p.apply(0, "pend.toml", &forward(8089), &["--confirm-within", "60"]);
    assert!(out.status.success(), "{out:?}");
    let v = p.running(0).0;
    p.link(1, true);
    let adopted = within(5, || p.running(1) == (v, Some(v)));
    assert!(adopted.is_some(), "{:?}", p.running(1));
    let left = p.json(1, &["status"])["pending"]["deadline_secs"]
        .as_u64()
        .unwrap_or(0);
    assert!(
        (50..=60).contains(&left),
        "the same deadline on b: {left}s left"
    );
    assert!(p.cli(0, &["confirm"]).status.success());
    assert!(
        within(3, || p.running(1) == (v, None)).is_some(),
        "{:?}",
        p.running(1)
    );
    assert!(!p.ha(0)["diverged"].as_bool().unwrap_or(true));
}

#[test]
fn bans_reach_the_peer() {
    let p = pair();
    assert!(within(10, || p.ha(0)["peer"]["reachable"] == true).is_some());
    let sock = p.nodes[0].socket.to_string_lossy().into_owned();
    let out = p.ns[0]
        .run(&[
            "curl",
            "-s",
            "--unix-socket",
            &sock,
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"addr":"203.0.113.77","secs":600}"#,
            "http://parvis/api/v1/bans",
        ])
        .expect("ban");
    assert!(out.status.success(), "{out:?}");
    let banned = within(5, || p.nft(1).contains("203.0.113.77"));
    assert!(banned.is_some(), "{}", p.nft(1));
    let out = p.ns[1]
        .run(&[
            "curl",
            "-s",
            "-X",
            "DELETE",
            "--unix-socket",
            &p.nodes[1].socket.to_string_lossy(),
            "http://parvis/api/v1/bans/203.0.113.77",
        ])
        .expect("unban");
    assert!(out.status.success(), "{out:?}");
    assert!(within(5, || !p.nft(0).contains("203.0.113.77")).is_some());
    // A ban made while b is away reaches it when it returns.
    let mut p = p;
    p.kill(1);
    let out = p.ns[0]
        .run(&[
            "curl",
            "-s",
            "--unix-socket",
            &sock,
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"addr":"203.0.113.78","secs":600}"#,
            "http://parvis/api/v1/bans",
        ])
        .expect("ban");
    assert!(out.status.success(), "{out:?}");
    p.restart(1);
    assert!(
        within(10, || p.nft(1).contains("203.0.113.78")).is_some(),
        "{}",
        p.nft(1)
    );
}

#[test]
fn a_change_the_peer_refuses_is_not_applied_anywhere() {
    let p = pair();
    assert!(within(10, || p.ha(0)["peer"]["reachable"] == true).is_some());
    // Apart: a moves on twice; b makes a change pending. Back together,
    // b's pending change loses to a's version, so a does not take it, and
    // b keeps it pending until it is settled.
    p.link(0, false);
    assert!(within(5, || p.ha(1)["peer"]["reachable"] == false).is_some());
    assert!(p
        .apply(0, "a2.toml", &forward(8092), &[])
        .0
        .status
        .success());
    assert!(p
        .apply(0, "a3.toml", &forward(8093), &[])
        .0
        .status
        .success());
    let (out, _) = p.apply(
        1,
        "pend-b.toml",
        &forward(8090),
        &["--confirm-within", "60"],
    );
    assert!(out.status.success(), "{out:?}");
    p.link(0, true);
    assert!(within(5, || p.ha(0)["peer"]["reachable"] == true).is_some());
    let before = p.history(0);
    let (out, _) = p.apply(0, "refused.toml", &forward(8091), &[]);
    assert!(
        !out.status.success(),
        "a must refuse what b refuses: {out:?}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refused by the peer b") && err.contains("pending"),
        "{err}"
    );
    assert_eq!(p.history(0), before, "nothing stored on a");
    assert!(!p.nft(0).contains("8091"));
    // Once b's change is confirmed, the higher version (a's) wins on both.
    assert!(p.cli(1, &["confirm"]).status.success());
    let v = p.running(0).0;
    assert!(
        within(5, || p.running(1).0 == v).is_some(),
        "{:?}",
        p.running(1)
    );
    assert!(p.nft(1).contains("8093") && !p.nft(1).contains("8090"));
    let c = p.ha(1)["peer"]["conflict"].to_string();
    assert!(c.contains("superseded"), "{c}");
}

/// Figures for docs/ha.md: `cargo test --test ha_sync figures -- --ignored --nocapture`.
#[test]
#[ignore]
fn figures() {
    let mut p = pair();
    assert!(within(10, || p.ha(0)["peer"]["reachable"] == true).is_some());
    let mut applies = Vec::new();
    for k in 0..20u16 {
        let (out, took) = p.apply(
            usize::from(k % 2),
            &format!("f{k}.toml"),
            &forward(9000 + k),
            &[],
        );
        assert!(out.status.success(), "{out:?}");
        let v = p.running(usize::from(k % 2)).0;
        assert_eq!(p.running(usize::from(1 - k % 2)).0, v);
        applies.push(took);
    }
    // The same applies with the peer away: the node alone, for comparison.
    p.kill(1);
    assert!(within(5, || p.ha(0)["peer"]["reachable"] == false).is_some());
    let mut alone = Vec::new();
    for k in 0..10u16 {
        let (out, took) = p.apply(0, &format!("s{k}.toml"), &forward(9200 + k), &[]);
        assert!(out.status.success(), "{out:?}");
        alone.push(took);
    }
    p.restart(1);
    let v = p.running(0).0;
    assert!(within(15, || p.running(1).0 == v).is_some());
    let mut catch = Vec::new();
    for k in 0..5u16 {
        p.kill(1);
        let (out, _) = p.apply(0, &format!("c{k}.toml"), &forward(9100 + k), &[]);
        assert!(out.status.success(), "{out:?}");
        let v = p.running(0).0;
        p.restart(1);
        let took = within(15, || p.running(1).0 == v).expect("caught up");
        catch.push(took);
    }
    let stats = |mut d: Vec<Duration>| {
        d.sort();
        // Nearest rank: the q-th percentile of n samples is sample ceil(q*n/100).
        let at = |q: usize| d[(q * d.len()).div_ceil(100).clamp(1, d.len()) - 1];
        format!(
            "p50 {:?} p95 {:?} max {:?} (n={})",
            at(50),
            at(95),
            at(100),
            d.len()
        )
    };
    eprintln!(
        "FIGURE apply returns with the version in force on both: {}",
        stats(applies)
    );
    eprintln!(
        "FIGURE apply with the peer away (this node alone): {}",
        stats(alone)
    );
    eprintln!(
        "FIGURE restarted node in force on the missed version after its socket opened: {}",
        stats(catch)
    );
}

#[test]
fn sighup_and_an_api_apply_of_the_redacted_text_reach_the_peer_with_the_key() {
    let p = pair();
    assert!(within(10, || p.ha(0)["peer"]["reachable"] == true).is_some());
    // SIGHUP on a: its file, re-read, is in force on b too.
    std::fs::write(&p.nodes[0].config, config(&p.dir, KEY, &forward(8094))).expect("write");
    let pid = p.nodes[0].child.as_ref().expect("a runs").id().to_string();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .expect("kill");
    assert!(hup.success());
    let v = within(10, || p.nft(1).contains("8094"));
    assert!(v.is_some(), "SIGHUP on a never reached b");
    assert_eq!(p.running(0).0, p.running(1).0);

    // The API on b: the config as shown (key masked), edited, applied.
    let sock = p.nodes[1].socket.to_string_lossy().into_owned();
    let curl = |args: &[&str]| {
        let mut all = vec!["curl", "-s", "--unix-socket", sock.as_str()];
        all.extend_from_slice(args);
        let out = p.ns[1].run(&all).expect("curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let shown: serde_json::Value =
        serde_json::from_str(&curl(&["http://parvis/api/v1/config"])).expect("json");
    let text = shown["text"].as_str().expect("text").to_string();
    assert!(!text.contains(KEY), "{text}");
    let body = serde_json::json!({ "config": text + &forward(8095) }).to_string();
    let out = curl(&[
        "-H",
        "Content-Type: application/json",
        "-d",
        &body,
        "http://parvis/api/v1/apply",
    ]);
    assert!(out.contains("\"version\""), "{out}");
    let v = p.running(1).0;
    assert_eq!(p.running(0).0, v);
    assert!(p.nft(0).contains("8095"));
    for state in [&p.nodes[0].state, &p.nodes[1].state] {
        let stored =
            std::fs::read_to_string(state.join(format!("config/{v:06}.toml"))).expect("stored");
        assert!(
            stored.contains(KEY),
            "the pair's key kept in the stored version"
        );
    }
    assert_eq!(p.ha(0)["peer"]["reachable"], true, "the key still works");
}

#[test]
fn an_unreadable_key_file_is_a_status_warning_not_a_dead_daemon() {
    let mut p = pair();
    p.kill(0);
    let missing = p.dir.join("no-such.key");
    let text = config(&p.dir, KEY, "").replace(
        &format!("key = \"{KEY}\""),
        &format!("key_file = \"{}\"", missing.display()),
    );
    std::fs::write(&p.nodes[0].config, text).expect("write");
    std::fs::remove_dir_all(&p.nodes[0].state).expect("fresh state");
    p.restart(0);
    let s = p.json(0, &["status"]);
    let w = s["warnings"].to_string();
    assert!(
        w.contains("config sync not started") && w.contains("no-such.key"),
        "{w}"
    );
    assert!(s["ha"].is_null(), "{s}");
    assert!(
        p.nft(0).contains("2222"),
        "the node still serves its config"
    );
}
