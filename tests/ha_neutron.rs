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
use ha_support::{exe, wait_for, Pair, ADVERT};
use nix::sys::signal::Signal;
use parvis::lab::neutron::CREDENTIAL_SECRET;
use parvis::lab::neutron_tls::lab_tls;
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
    let moves = n.api().world().moves.len();
    n.p.signal(0, Signal::SIGKILL);
    let killed = Instant::now();
    wait_for("b MASTER after a's crash", failover(), || {
        n.p.role(1) == "MASTER"
    });
    let vrrp = killed.elapsed();
    let mut served_early = 0;
    let mut saw_vip_before_move = false;
    while n.api().world().moves.len() == moves {
        assert!(
            killed.elapsed() < failover() + delay * 3,
            "b never called the API"
        );
        saw_vip_before_move |= n.p.owners(VIP_PUBLIC) == [1];
        let ok = n.p.tls_ok();
        if ok && n.api().world().moves.len() == moves {
            served_early += 1;
        }
    }
    let moved = n
        .api()
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

/// A refusing API (403) and an unreachable one: the new master says it is
/// not serving and why, keeps retrying, and serves once the API answers.
#[test]
fn refused_or_unreachable_api_is_reported_and_retried() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let mut n = NPair::start(Duration::ZERO, false);
    n.api().world().refuse = Some(403);
    n.p.signal(0, Signal::SIGKILL);
    wait_for("b MASTER", failover(), || n.p.role(1) == "MASTER");
    wait_for("b reports the refusal", Duration::from_secs(10), || {
        n.fip(1, "error")
            .as_str()
            .is_some_and(|e| e.contains("HTTP 403") && e.contains("disallowed by policy"))
    });
    assert_eq!(n.fip(1, "serving"), false);
    for args in [&["ha", "status"][..], &["status"]] {
        let human = cli(&n, 1, args);
        assert!(
            human.contains("NOT SERVING") && human.contains("HTTP 403"),
            "{args:?}: {human}"
        );
    }
    // `parvis status --json` (the dashboard's data): the verdict and a warning.
    let status: serde_json::Value =
        serde_json::from_str(&cli(&n, 1, &["status", "--json"])).expect("status json");
    assert_eq!(status.pointer("/ha/neutron/serving"), Some(&false.into()));
    assert_eq!(status.pointer("/ha/neutron/points_at"), Some(&"a".into()));
    let warned = |s: &serde_json::Value, what: &str| {
        s["warnings"].as_array().is_some_and(|w| {
            w.iter()
                .any(|w| w.as_str().is_some_and(|w| w.contains(what)))
        })
    };
    assert!(warned(&status, "NOT SERVING"), "{status}");
    assert!(
        !n.p.tls_ok(),
        "no service while the floating IP points at the dead node"
    );
    n.api().world().refuse = None;
    wait_for(
        "b retries and moves the floating IP",
        Duration::from_secs(8),
        || n.port() == Some(1),
    );
    wait_for("b serving", Duration::from_secs(5), || {
        n.fip(1, "serving") == true
    });
    assert!(n.fip(1, "error").is_null(), "the error clears");
    let status: serde_json::Value =
        serde_json::from_str(&cli(&n, 1, &["status", "--json"])).expect("status json");
    assert_eq!(status.pointer("/ha/neutron/serving"), Some(&true.into()));
    assert!(!warned(&status, "floating IP"), "{status}");
    assert!(!cli(&n, 1, &["status"]).contains("NOT SERVING"));

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

/// HTTPS to Keystone and Neutron (the stand-in with a lab CA): with that
/// CA in `ca_file` the pair starts and the floating IP moves over TLS; a
/// node whose `ca_file` holds another CA reports the certificate error
/// while BACKUP, and once MASTER says NOT SERVING (the floating IP stays
/// put: no silent failover); the system's CA bundle does not trust the lab
/// CA either; the right CA back, the node moves the floating IP.
#[test]
fn https_with_the_right_ca_works_and_a_wrong_ca_is_a_clear_error() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let right = lab_tls("parvis lab CA").expect("lab CA");
    let wrong = lab_tls("another CA").expect("another CA");
    let cas = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tmp");
    let ca_file = cas.path().join("openstack-ca.pem");
    std::fs::write(&ca_file, &right.ca_pem).expect("CA file");
    let mut n = NPair {
        p: Pair::start_neutron_tls(right.server.clone(), &ca_file),
    };
    assert!(n.api().url().starts_with("https://"));
    assert!(
        n.api()
            .world()
            .calls
            .iter()
            .any(|c| c.starts_with("PUT /v2.0/floatingips/") && c.ends_with(" 200")),
        "a moved the floating IP over HTTPS: {:?}",
        n.api().world().calls
    );
    assert_eq!(n.fip(0, "serving"), true);

    // The client side alone: the system's bundle, the wrong and the right CA.
    for (ca, trusted) in [
        (None, false),
        (Some(&wrong.ca_pem), false),
        (Some(&right.ca_pem), true),
    ] {
        let answer = get_with_ca(&n, ca.map(String::as_str));
        match trusted {
            true => assert!(answer.is_ok(), "{answer:?}"),
            false => assert!(
                answer
                    .as_ref()
                    .is_err_and(|e| e.contains("API unreachable") && e.contains("certificate")),
                "{answer:?}"
            ),
        }
    }

    // b restarts trusting another CA: it says so while BACKUP...
    std::fs::write(&ca_file, &wrong.ca_pem).expect("CA file");
    n.p.signal(1, Signal::SIGKILL);
    n.start_node(1);
    wait_for("b BACKUP", Duration::from_secs(15), || {
        n.p.role(1) == "BACKUP"
    });
    let cert_error = |i: usize| {
        n.fip(i, "error")
            .as_str()
            .is_some_and(|e| e.contains("TLS") && e.contains("certificate"))
    };
    wait_for(
        "b reports the certificate error",
        Duration::from_secs(10),
        || cert_error(1),
    );
    assert!(cli(&n, 1, &["status"]).contains("the OpenStack API fails"));
    // ...and once MASTER it is NOT SERVING, and says why.
    n.p.signal(0, Signal::SIGKILL);
    wait_for("b MASTER", failover(), || n.p.role(1) == "MASTER");
    wait_for("b NOT SERVING", Duration::from_secs(10), || {
        cli(&n, 1, &["ha", "status"]).contains("NOT SERVING")
    });
    assert!(cert_error(1), "{}", n.fip(1, "error"));
    assert_eq!(n.port(), Some(0), "nothing moved the floating IP");
    assert!(
        !n.p.tls_ok(),
        "no service: the floating IP still points at a"
    );

    // The right CA back: b (alone now) moves the floating IP and serves.
    std::fs::write(&ca_file, &right.ca_pem).expect("CA file");
    n.p.signal(1, Signal::SIGKILL);
    n.start_node(1);
    wait_for("b MASTER again", failover(), || n.p.role(1) == "MASTER");
    wait_for("floating IP on b", failover(), || n.port() == Some(1));
    wait_for("TLS through b", failover(), || n.p.tls_ok());
    assert!(n.fip(1, "error").is_null());
}

/// GET Keystone's `/v3` over HTTPS from the client namespace with the
/// appliance's own client, trusting `ca` (PEM) or the system's bundle.
fn get_with_ca(n: &NPair, ca: Option<&str>) -> Result<u16, String> {
    use parvis::ha::neutron_http::{Http, Url};
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("ca.pem");
    if let Some(pem) = ca {
        std::fs::write(&path, pem).expect("ca");
    }
    let ca_file = ca.map(|_| path.clone());
    let url = n.api().url();
    parvis::lab::echo::within(n.p.topo.client(), move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let http =
                Http::new(ca_file.as_deref(), Duration::from_secs(5)).map_err(|e| e.to_string())?;
            let url = Url::parse(&url).map_err(|e| e.to_string())?;
            http.send(hyper::Method::GET, &url, None, None)
                .await
                .map(|r| r.status)
                .map_err(|e| e.to_string())
        })
    })
    .expect("client namespace")
}

/// `parvis <args> --socket <node i's socket>`'s standard output.
fn cli(n: &NPair, i: usize, args: &[&str]) -> String {
    let out = Command::new(exe())
        .args(args)
        .arg("--socket")
        .arg(n.p.socket(i))
        .output()
        .expect("parvis");
    String::from_utf8_lossy(&out.stdout).to_string()
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
