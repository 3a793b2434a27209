//! The pair in the "neutron" failover mode, with real keepalived and
//! conntrackd in the `lab --ha` topology and the Keystone/Neutron stand-in
//! in the router's namespace: the router's floating-IP NAT targets a
//! node's own address and changes only when the API is called, so
//! gratuitous ARP cannot move the traffic. Needs root; one test at a time.

mod ha_neutron_support;
mod ha_support;

use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ha_neutron_support::{failover, NPair};
use ha_support::{exe, wait_for, ADVERT};
use nix::sys::signal::Signal;
use parvis::lab::neutron::CREDENTIAL_SECRET;
use parvis::lab::pair_topology::{NODE_NAMES, VIP_PUBLIC};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// kill -9 of the master with a slow API (2 s per call): b wins VRRP and
/// holds the public VIP (gratuitous ARP sent), yet no client reaches it
/// until its PUT has moved the floating IP; then it serves, and the old
/// master returns as BACKUP without preempting or moving the floating IP.
#[test]
fn crash_moves_the_floating_ip_only_through_the_api() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let delay = Duration::from_secs(2);
    let mut n = NPair::start(delay, true);
    let moves = n.api.world().moves.len();
    n.p.signal(0, Signal::SIGKILL);
    let killed = Instant::now();
    wait_for("b MASTER after a's crash", failover(), || {
        n.p.role(1) == "MASTER"
    });
    let vrrp = killed.elapsed();
    let mut served_early = 0;
    let mut saw_vip_before_move = false;
    while n.api.world().moves.len() == moves {
        assert!(
            killed.elapsed() < failover() + delay * 3,
            "b never called the API"
        );
        saw_vip_before_move |= n.p.owners(VIP_PUBLIC) == [1];
        let ok = n.p.tls_ok();
        if ok && n.api.world().moves.len() == moves {
            served_early += 1;
        }
    }
    let moved = n
        .api
        .world()
        .moves
        .last()
        .map(|m| m.0.duration_since(killed));
    assert_eq!(
        served_early, 0,
        "a client was served before the API moved the floating IP"
    );
    assert!(
        saw_vip_before_move,
        "b held the public VIP (gratuitous ARP) before the move"
    );
    assert_eq!(n.port(), Some(1));
    let served = wait_for("TLS through b", failover(), || n.p.tls_ok());
    eprintln!(
        "crash: b MASTER after {vrrp:?}, floating IP moved at {moved:?}, served {served:?} later"
    );
    assert!(
        moved.is_some_and(|m| m >= delay),
        "the move took the API's delay"
    );
    wait_for("b says it serves", Duration::from_secs(5), || {
        n.fip(1, "serving") == true
    });
    assert_eq!(n.fip(1, "points_at"), "b");

    n.start_node(0);
    wait_for("a back as BACKUP", Duration::from_secs(15), || {
        n.p.role(0) == "BACKUP"
    });
    let start = Instant::now();
    while start.elapsed() < ADVERT * 4 {
        assert!(n.p.sole_owner(1), "a took the VIPs back (preempted)");
        assert_eq!(n.port(), Some(1), "the floating IP moved back");
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_for(
        "a sees the floating IP on b",
        Duration::from_secs(10),
        || n.fip(0, "points_at") == "b" && n.fip(0, "agrees") == true,
    );
    assert!(n.p.tls_ok());
}

/// Planned handover and a hang move the floating IP with the election.
#[test]
fn handover_and_hang_move_the_floating_ip() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let n = NPair::start(Duration::ZERO, true);
    let out = Command::new(exe())
        .args(["ha", "handover", "--socket"])
        .arg(n.p.socket(0))
        .output()
        .expect("handover");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for("b MASTER", failover(), || n.p.role(1) == "MASTER");
    wait_for("floating IP on b", failover(), || n.port() == Some(1));
    wait_for("TLS through b", failover(), || n.p.tls_ok());
    wait_for("a BACKUP", failover(), || n.p.role(0) == "BACKUP");

    n.p.signal(1, Signal::SIGSTOP);
    wait_for("a MASTER while b hangs", failover(), || {
        n.p.role(0) == "MASTER"
    });
    wait_for("floating IP back on a", failover(), || n.port() == Some(0));
    wait_for("TLS through a", failover(), || n.p.tls_ok());
    n.p.signal(1, Signal::SIGCONT);
    wait_for("b BACKUP after SIGCONT", failover(), || {
        n.p.role(1) == "BACKUP"
    });
    assert_eq!(
        n.port(),
        Some(0),
        "no preemption: the floating IP stays on a"
    );
}

/// A refusing API (403) and an unreachable one: the new master says it is
/// not serving and why, keeps retrying, and serves once the API answers.
#[test]
fn refused_or_unreachable_api_is_reported_and_retried() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let mut n = NPair::start(Duration::ZERO, false);
    n.api.world().refuse = Some(403);
    n.p.signal(0, Signal::SIGKILL);
    wait_for("b MASTER", failover(), || n.p.role(1) == "MASTER");
    wait_for("b reports the refusal", Duration::from_secs(10), || {
        n.fip(1, "error")
            .as_str()
            .is_some_and(|e| e.contains("HTTP 403") && e.contains("disallowed by policy"))
    });
    assert_eq!(n.fip(1, "serving"), false);
    let human = Command::new(exe())
        .args(["ha", "status", "--socket"])
        .arg(n.p.socket(1))
        .output()
        .expect("status");
    let human = String::from_utf8_lossy(&human.stdout).to_string();
    assert!(
        human.contains("NOT SERVING") && human.contains("HTTP 403"),
        "{human}"
    );
    assert!(
        !n.p.tls_ok(),
        "no service while the floating IP points at the dead node"
    );
    n.api.world().refuse = None;
    wait_for(
        "b retries and moves the floating IP",
        Duration::from_secs(8),
        || n.port() == Some(1),
    );
    wait_for("b serving", Duration::from_secs(5), || {
        n.fip(1, "serving") == true
    });
    assert!(n.fip(1, "error").is_null(), "the error clears");

    // Unreachable: the router refuses the API's ports; a returns, b hands over.
    n.start_node(0);
    wait_for("a BACKUP", Duration::from_secs(15), || {
        n.p.role(0) == "BACKUP"
    });
    let block = "table ip pv-api-block {\n chain input { type filter hook input priority 0; policy accept; \
                 tcp dport { 5000, 9696 } reject with tcp reset; }\n}\n";
    let router = n.p.topo.router();
    router
        .run_with_input(&["nft", "-f", "-"], block.as_bytes())
        .expect("block the API");
    let out = Command::new(exe())
        .args(["ha", "handover", "--socket"])
        .arg(n.p.socket(1))
        .output()
        .expect("handover");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for("a MASTER", failover(), || n.p.role(0) == "MASTER");
    wait_for(
        "a reports the API unreachable",
        Duration::from_secs(10),
        || {
            n.fip(0, "error")
                .as_str()
                .is_some_and(|e| e.contains("API unreachable"))
        },
    );
    assert_eq!(n.fip(0, "serving"), false);
    assert_eq!(n.port(), Some(1), "nothing moved the floating IP");
    router
        .run(&["nft", "delete", "table", "ip", "pv-api-block"])
        .expect("unblock");
    wait_for(
        "a retries and moves the floating IP",
        Duration::from_secs(8),
        || n.port() == Some(0),
    );
    wait_for("TLS through a", failover(), || n.p.tls_ok());
    assert_secret_never_shown(&n);
}

fn assert_secret_never_shown(n: &NPair) {
    for (i, name) in NODE_NAMES.iter().enumerate() {
        for args in [
            &["ha", "status", "--json"][..],
            &["status", "--json"],
            &["export", "--redact"],
        ] {
            let out = Command::new(exe())
                .args(args)
                .arg("--socket")
                .arg(n.p.socket(i))
                .output()
                .expect("cli");
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && !text.is_empty(),
                "{args:?} answered"
            );
            assert!(
                !text.contains(CREDENTIAL_SECRET),
                "{args:?} shows the secret"
            );
            if args == ["export", "--redact"] {
                assert!(
                    text.contains("application_credential_secret = \"****"),
                    "export masks the secret: {text}"
                );
            }
        }
        let log = std::fs::read_to_string(n.p.dir.path().join(format!("{name}.log"))).expect("log");
        assert!(!log.is_empty(), "the daemon logged something");
        assert!(
            !log.contains(CREDENTIAL_SECRET),
            "node {i}'s log holds the secret"
        );
    }
}
