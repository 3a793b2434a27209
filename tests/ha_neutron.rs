//! The pair in the "neutron" failover mode, with real keepalived and
//! conntrackd in the `lab --ha` topology and the Keystone/Neutron stand-in
//! in the router's namespace: the router's floating-IP NAT targets a
//! node's own address and changes only when the API is called, so
//! gratuitous ARP cannot move the traffic. Needs root; one test at a time.

mod ha_support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ha_support::{exe, require_root, wait_for, Pair, ADVERT};
use nix::sys::signal::Signal;
use parvis::lab::appliance::{wait_ready, Daemon};
use parvis::lab::neutron::{StandIn, CREDENTIAL_SECRET, PORT_IDS};
use parvis::lab::neutron_pair::{neutron_config, write_secret};
use parvis::lab::pair::start_backends;
use parvis::lab::pair_topology::{NODE_NAMES, VIP_PUBLIC};
use parvis::lab::{ChildGuard, PairTopology};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The pair and the stand-in (dropped after the daemons).
struct NPair {
    p: Pair,
    api: StandIn,
}

fn failover() -> Duration {
    ADVERT * 4 + Duration::from_secs(3)
}

impl NPair {
    /// Builds the lab, starts the stand-in (each call taking `delay`), `a`
    /// (MASTER, which points the floating IP at itself), then `b`.
    fn start(delay: Duration, secret_in_file: bool) -> NPair {
        require_root();
        let topo = PairTopology::build().expect("pair topology");
        let api = StandIn::start(topo.router().name()).expect("stand-in");
        api.world().delay = delay;
        let backends = start_backends(&topo, &exe()).expect("backends");
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let dir = tempfile::tempdir_in(base).expect("tempdir");
        let secret = secret_in_file.then(|| write_secret(dir.path()).expect("secret"));
        let text = neutron_config(&dir.path().join("state"), ADVERT, secret.as_deref());
        let mut n = NPair {
            p: Pair {
                daemons: [None, None],
                backends,
                topo,
                dir,
                text,
            },
            api,
        };
        n.start_node(0);
        wait_for("a MASTER", Duration::from_secs(15), || {
            n.p.role(0) == "MASTER"
        });
        n.start_node(1);
        wait_for("b BACKUP", Duration::from_secs(15), || {
            n.p.role(1) == "BACKUP"
        });
        wait_for("the floating IP on a", failover() + delay * 2, || {
            n.port() == Some(0)
        });
        wait_for("TLS through a", failover(), || n.p.tls_ok());
        n
    }

    /// Starts node `i` with its stdout and stderr in `dir/<node>.log`.
    fn start_node(&mut self, i: usize) {
        let dir = self.p.dir.path();
        let node_dir = dir.join(NODE_NAMES[i]);
        std::fs::create_dir_all(&node_dir).expect("mkdir");
        let config = dir.join("parvis.toml");
        std::fs::write(&config, &self.p.text).expect("config");
        let socket = node_dir.join("control.sock");
        let _ = std::fs::remove_file(&socket);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("{}.log", NODE_NAMES[i])))
            .expect("log");
        let mut cmd = self.p.topo.node(i).command(&exe().to_string_lossy());
        cmd.arg("serve")
            .arg("--config")
            .arg(&config)
            .arg("--socket")
            .arg(&socket);
        cmd.arg("--state-dir")
            .arg(node_dir.join("state"))
            .env("RUST_LOG", "debug");
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        let mut child = ChildGuard::spawn(cmd).expect("daemon");
        wait_ready(&mut child, &socket).expect("ready");
        self.p.daemons[i] = Some(Daemon {
            child,
            config,
            socket,
            state_dir: node_dir.join("state"),
        });
    }

    /// Which node's port the stand-in says the floating IP points at.
    fn port(&self) -> Option<usize> {
        let w = self.api.world();
        w.port
            .as_deref()
            .and_then(|p| PORT_IDS.iter().position(|x| *x == p))
    }

    /// `neutron.<key>` of node `i`'s `parvis ha status --json`.
    fn fip(&self, i: usize, key: &str) -> serde_json::Value {
        self.p
            .status(i)
            .and_then(|v| v.pointer(&format!("/neutron/{key}")).cloned())
            .unwrap_or_default()
    }
}

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
    for i in 0..2 {
        for args in [
            &["ha", "status", "--json"][..],
            &["status", "--json"],
            &["export"],
        ] {
            let out = Command::new(exe())
                .args(args)
                .arg("--socket")
                .arg(n.p.socket(i))
                .output()
                .expect("cli");
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                !text.contains(CREDENTIAL_SECRET),
                "{args:?} shows the secret"
            );
        }
        let log = std::fs::read_to_string(n.p.dir.path().join(format!("{}.log", NODE_NAMES[i])))
            .expect("log");
        assert!(!log.is_empty(), "the daemon logged something");
        assert!(
            !log.contains(CREDENTIAL_SECRET),
            "node {i}'s log holds the secret"
        );
    }
}
