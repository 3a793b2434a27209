//! The active/standby pair with real keepalived and conntrackd in the
//! `lab --ha` topology (port security on, VRRP multicast dropped). Needs
//! root. The tests run one at a time: each moves VIPs on a 2-core machine.

mod ha_support;

use std::io::{Read, Write};
use std::sync::Mutex;
use std::time::Duration;

use ha_support::{apply, handover, versions, wait_for, with_forward, HeldTls, Pair, ADVERT};
use nix::sys::signal::Signal;
use parvis::lab::echo::connect_from;
use parvis::lab::pair::ECHO_PORT;
use parvis::lab::pair_topology::{VIP_INTERNAL, VIP_PUBLIC};
use parvis::lab::FLOATING_IP;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Failover deadline: the master-down interval and then some.
fn failover() -> Duration {
    ADVERT * 4 + Duration::from_secs(3)
}

fn echo_round(conn: &mut std::net::TcpStream, msg: &[u8]) -> Result<(), String> {
    conn.write_all(msg).map_err(|e| format!("write: {e}"))?;
    let mut got = vec![0u8; msg.len()];
    conn.read_exact(&mut got)
        .map_err(|e| format!("read: {e}"))?;
    if got == msg {
        Ok(())
    } else {
        Err(format!("echoed {got:?}"))
    }
}

/// kill -9 of the master's daemon: keepalived dies with it (priority 0),
/// the backup takes both VIPs, a held in-kernel forwarded connection keeps
/// working (conntrackd committed it), and the old master returns as BACKUP
/// without taking the VIPs back.
#[test]
fn crash_of_the_master_moves_both_vips_and_keeps_forwarded_connections() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let mut p = Pair::start(ADVERT);
    assert!(
        p.sole_owner(0),
        "a holds both VIPs: {:?} {:?}",
        p.owners(VIP_PUBLIC),
        p.owners(VIP_INTERNAL)
    );
    assert!(p.tls_ok(), "TLS through the floating IP before the fault");
    let mut held = connect_from(
        p.topo.client(),
        (FLOATING_IP, ECHO_PORT).into(),
        Duration::from_secs(2),
    )
    .expect("held connection");
    held.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    echo_round(&mut held, b"before").expect("echo before");
    // conntrackd replicates the flow within a moment; poll the backup's cache.
    wait_for(
        "b's conntrackd has the flow",
        Duration::from_secs(5),
        || {
            let conf = p.dir.path().join("b/state/ha/conntrackd.conf");
            p.topo
                .node(1)
                .run(&["conntrackd", "-C", &conf.to_string_lossy(), "-e", "ct"])
                .is_ok_and(|o| {
                    String::from_utf8_lossy(&o.stdout).contains(&format!("dport={ECHO_PORT}"))
                })
        },
    );

    p.signal(0, Signal::SIGKILL);
    let took = wait_for("b MASTER after a's crash", failover(), || {
        p.role(1) == "MASTER"
    });
    wait_for("b sole owner", failover(), || p.sole_owner(1));
    eprintln!("crash: b master after {took:?}");
    wait_for("TLS through b", failover(), || p.tls_ok());
    echo_round(&mut held, b"after the crash").expect("the held forwarded connection survives");
    assert!(p.cause(1).contains("peer a"), "cause: {}", p.cause(1));

    p.start_node(0);
    wait_for("a back as BACKUP", Duration::from_secs(15), || {
        p.role(0) == "BACKUP"
    });
    // No preemption: a has the higher priority yet stays BACKUP.
    let window = ADVERT * 4;
    let start = std::time::Instant::now();
    while start.elapsed() < window {
        assert!(p.sole_owner(1), "a took the VIPs back (preempted)");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(p.role(0), "BACKUP");
    echo_round(&mut held, b"still").expect("held connection after a's return");
}

/// SIGSTOP of the master's daemon: its health file goes stale, keepalived
/// goes FAULT and gives the VIPs up; SIGCONT brings it back as BACKUP.
/// Then a planned handover back, and a public link down.
#[test]
fn hang_handover_and_link_down() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let p = Pair::start(ADVERT);

    p.signal(0, Signal::SIGSTOP);
    let took = wait_for("b MASTER after a hangs", failover(), || {
        p.role(1) == "MASTER"
    });
    wait_for("b sole owner while a hangs", failover(), || p.sole_owner(1));
    eprintln!("hang: b master after {took:?}");
    assert!(p.tls_ok(), "service through b while a hangs");
    p.signal(0, Signal::SIGCONT);
    wait_for("a BACKUP after SIGCONT", failover(), || {
        p.role(0) == "BACKUP"
    });
    assert!(p.sole_owner(1), "a did not take the VIPs back");

    let out = std::process::Command::new(ha_support::exe())
        .args(["ha", "handover", "--socket"])
        .arg(p.socket(1))
        .output()
        .expect("handover");
    assert!(
        out.status.success(),
        "handover: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("handover: {}", String::from_utf8_lossy(&out.stdout).trim());
    wait_for("a sole owner after handover", failover(), || {
        p.sole_owner(0)
    });
    assert_eq!(p.role(0), "MASTER");
    wait_for("b BACKUP after handover", failover(), || {
        p.role(1) == "BACKUP"
    });
    assert!(p.tls_ok(), "service through a after the handover");

    p.link_down(0);
    wait_for(
        "b MASTER after a's public link went down",
        failover(),
        || p.role(1) == "MASTER",
    );
    wait_for("b sole owner after link down", failover(), || {
        p.sole_owner(1)
    });
    assert_eq!(p.role(0), "FAULT");
    wait_for("TLS through b after link down", failover(), || p.tls_ok());
    p.link_up(0);
    wait_for("a BACKUP after link up", failover(), || {
        p.role(0) == "BACKUP"
    });
    // a can serve again: hand the VIPs back and reach the service through it.
    let out = std::process::Command::new(ha_support::exe())
        .args(["ha", "handover", "--socket"])
        .arg(p.socket(1))
        .output()
        .expect("handover");
    assert!(
        out.status.success(),
        "handover back: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for("a sole owner again", failover(), || p.sole_owner(0));
    wait_for("TLS through a after its link came back", failover(), || {
        p.tls_ok()
    });
}

/// VRRP dropped between the nodes: both become MASTER (split brain); once
/// the partition heals, exactly one keeps the VIPs.
#[test]
fn a_vrrp_partition_heals_without_lasting_split_brain() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let p = Pair::start(ADVERT);
    let cut = "table bridge pv-partition {\n\tchain c {\n\t\ttype filter hook prerouting priority -300; policy accept;\n\t\tip protocol vrrp drop\n\t}\n}\n";
    p.topo
        .switch()
        .run_with_input(&["nft", "-f", "-"], cut.as_bytes())
        .expect("partition");
    wait_for("b MASTER in the partition", failover(), || {
        p.role(1) == "MASTER"
    });
    assert_eq!(p.role(0), "MASTER", "both masters while VRRP cannot pass");
    p.topo
        .switch()
        .run(&["nft", "delete", "table", "bridge", "pv-partition"])
        .expect("heal");
    let healed = wait_for("one owner after the partition healed", failover(), || {
        p.sole_owner(0) || p.sole_owner(1)
    });
    eprintln!("partition healed: one owner after {healed:?}");
    assert!(
        healed <= ADVERT * 2 + Duration::from_millis(500),
        "split brain lasted {healed:?}"
    );
    // The daemons learn the roles from keepalived's notify FIFO a moment
    // after the addresses moved: wait for both to report it.
    wait_for("one MASTER and one BACKUP reported", failover(), || {
        let roles = [p.role(0), p.role(1)];
        roles.contains(&"MASTER".to_string()) && roles.contains(&"BACKUP".to_string())
    });
    wait_for("TLS after healing", failover(), || p.tls_ok());
}

/// A TLS connection relayed by the SNI forwarder survives a planned
/// handover (the old master drains it while the new master relays its
/// packets back), and the drain ends once it closes; a crash of the master
/// cuts such a connection (its socket died with the daemon), as documented.
#[test]
fn a_held_tls_connection_survives_a_planned_handover_but_not_a_crash() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let mut p = Pair::start(ADVERT);
    let held = HeldTls::open(&p);
    let msg = handover(&p, 0);
    eprintln!("handover: {msg}");
    assert!(msg.contains("drain here"), "{msg}");
    wait_for("b sole owner after handover", failover(), || {
        p.sole_owner(1)
    });
    assert!(p.tls_ok(), "a new connection is served (by b)");
    let answer = held.finish();
    assert!(
        answer.starts_with("answer HTTP/1.1 200") && answer.contains("ingress="),
        "the held connection after the handover: {answer}"
    );
    // The connection closed: a stops holding the VIP on its drain link.
    wait_for("a's drain over", Duration::from_secs(5), || {
        let out = p
            .topo
            .node(0)
            .ip(&["-4", "-o", "addr", "show", "dev", "parvis-drain"]);
        out.is_ok_and(|o| !String::from_utf8_lossy(&o.stdout).contains(&VIP_PUBLIC.to_string()))
    });

    let held = HeldTls::open(&p);
    p.signal(1, Signal::SIGKILL);
    wait_for("a MASTER after b's crash", failover(), || {
        p.role(0) == "MASTER"
    });
    wait_for("a sole owner", failover(), || p.sole_owner(0));
    let answer = held.finish();
    assert!(
        !answer.contains("ingress="),
        "a user-space connection cannot survive a crash: {answer}"
    );
    p.start_node(1);
}

fn in_force_on_both(p: &Pair, port: u16) -> bool {
    (0..2).all(|i| {
        p.topo
            .node(i)
            .run(&["nft", "list", "table", "inet", "parvis"])
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("dport {port} ")))
    })
}

/// An apply made while a failover happens lands on both nodes under one
/// version number: first during a planned handover (the apply succeeds and
/// is in force on both), then on the backup at the moment the master is
/// killed (the killed node catches up when it returns). No version is lost,
/// none is in force on one node only.
#[test]
fn an_apply_during_a_failover_lands_on_both_nodes_with_one_version() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let mut p = Pair::start(ADVERT);
    let before = versions(&p, 0).0;

    let text = with_forward(&p, 7101);
    let sock = p.socket(0);
    let handing = std::thread::spawn(move || {
        std::process::Command::new(ha_support::exe())
            .args(["ha", "handover", "--socket"])
            .arg(sock)
            .output()
            .expect("handover")
    });
    assert!(
        apply(&p, 0, "during-handover.toml", &text),
        "apply during the handover"
    );
    assert!(handing.join().expect("thread").status.success(), "handover");
    wait_for("b sole owner", failover(), || p.sole_owner(1));
    let (va, ha) = versions(&p, 0);
    let (vb, hb) = versions(&p, 1);
    assert!(va > before, "a new version: {va} after {before}");
    assert_eq!((va, &ha), (vb, &hb), "same version and history on both");
    assert!(
        in_force_on_both(&p, 7101),
        "the change is in force on both nodes"
    );

    // b is MASTER now: apply on a (the backup) while b is killed.
    let text = with_forward(&p, 7102);
    p.signal(1, Signal::SIGKILL);
    let applied = apply(&p, 0, "during-crash.toml", &text);
    wait_for("a MASTER after b's crash", failover(), || {
        p.role(0) == "MASTER"
    });
    p.start_node(1);
    wait_for("b back as BACKUP", Duration::from_secs(15), || {
        p.role(1) == "BACKUP"
    });
    wait_for("both nodes on one version", Duration::from_secs(15), || {
        let (a, b) = (versions(&p, 0), versions(&p, 1));
        a.0 == b.0 && a.1 == b.1
    });
    let (v, _) = versions(&p, 0);
    assert!(applied, "the apply on the surviving node succeeds");
    assert!(v > va, "the version made during the crash: {v} after {va}");
    assert!(
        in_force_on_both(&p, 7102),
        "the change reached the node that was down"
    );
}
