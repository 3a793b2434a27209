//! The pair's upgrade path (`docs/upgrades.md`) in the `lab --ha`
//! topology, with real keepalived and conntrackd: under a steady probe of
//! new TLS connections through the floating IP, rebuild the standby from
//! nothing but `parvis export` (its state wiped, as a VM made from a new
//! image would be), hand over, rebuild the other node the same way, hand
//! back. The "new image" runs the same binary: this tests the procedure
//! and the export, not a change of release. Needs root.

#[path = "../benches/ha_probe.rs"]
mod ha_probe;
mod ha_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::{Duration, Instant};

use ha_support::{apply, exe, handover, versions, wait_for, with_forward, HeldTls, Pair, ADVERT};
use parvis::lab::echo::connect_from;
use parvis::lab::pair::{start_node, ECHO_PORT};
use parvis::lab::pair_topology::NODE_NAMES;
use parvis::lab::FLOATING_IP;

/// New TLS connections through the floating IP, one started every 100 ms
/// in the client namespace ([`ha_probe::Prober`]).
type Prober = ha_probe::Prober;

impl Prober {
    /// The blackout windows (runs of failed attempts, by start time, ended
    /// by a success) that overlap `from..to` — an attempt started just
    /// before `from` may fail because of what happened after it, so a run
    /// counts when it ends after `from` and begins before `to`: (first
    /// failure, length from the success before to the success after).
    fn windows(&self, from: Instant, to: Instant) -> Vec<(Instant, Duration)> {
        let tries = self.sorted();
        let mut out = Vec::new();
        let mut last_ok: Option<Instant> = None;
        let mut run: Option<Instant> = None;
        for (t, ok) in tries {
            match (ok, run) {
                (false, None) => run = Some(t),
                (true, Some(first)) => {
                    if t > from && first < to {
                        let before = last_ok.unwrap_or(first);
                        out.push((first, t.duration_since(before)));
                    }
                    run = None;
                }
                _ => {}
            }
            if ok {
                last_ok = Some(t);
            }
        }
        out
    }

    /// Waits until an attempt started after `t` succeeded and every attempt
    /// started before it has ended (each gives up within 1.5 s).
    fn settle_after(&self, t: Instant) {
        wait_for(
            "a probe succeeds after the step",
            Duration::from_secs(10),
            || {
                let tries = self.tries.lock().unwrap_or_else(|e| e.into_inner());
                tries.iter().any(|x| x.1 && x.0 > t)
            },
        );
        std::thread::sleep(Duration::from_millis(1600));
    }
}

/// `parvis ARGS --socket` of node `i`: (success, stdout, stderr).
fn cli(p: &Pair, i: usize, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(exe())
        .args(args)
        .arg("--socket")
        .arg(p.socket(i))
        .output()
        .expect("parvis");
    let text = |b: &[u8]| String::from_utf8_lossy(b).to_string();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

/// Node `i`'s history as (version, state, author) rows.
fn history(p: &Pair, i: usize) -> Vec<(u64, String, String)> {
    let (_, out, _) = cli(p, i, &["history", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
    let field = |e: &serde_json::Value, k: &str| e[k].as_str().unwrap_or_default().to_string();
    v.as_array()
        .map(|h| {
            h.iter()
                .map(|e| {
                    let n = e["version"].as_u64().unwrap_or(0);
                    (n, field(e, "state"), field(e, "author"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// "Rebuilds" node `i` from `user_data` only: its daemon killed (a VM
/// deleted: keepalived and conntrackd die with it), its state and socket
/// folder removed, the kernel's table and connection tracking of its
/// namespace emptied, then started with `user_data` as its config file.
fn rebuild(p: &mut Pair, i: usize, user_data: &str) {
    p.daemons[i] = None;
    let node_dir = p.dir.path().join(NODE_NAMES[i]);
    std::fs::remove_dir_all(&node_dir).expect("wipe the node's state");
    let ns = p.topo.node(i);
    let _ = ns.run(&["nft", "delete", "table", "inet", "parvis"]);
    let _ = ns.run(&["conntrack", "-F"]);
    let d = start_node(&p.topo, i, &exe(), p.dir.path(), user_data).expect("rebuilt daemon");
    p.daemons[i] = Some(d);
}

/// Waits until node `i` is BACKUP with the same running version and
/// history as node `other`, and the same config text.
fn rejoined(p: &Pair, i: usize, other: usize) {
    wait_for(
        "the rebuilt node is BACKUP",
        Duration::from_secs(20),
        || p.role(i) == "BACKUP",
    );
    let same = || versions(p, i) == versions(p, other) && history(p, i) == history(p, other);
    let start = Instant::now();
    while !same() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        (versions(p, i), history(p, i)),
        (versions(p, other), history(p, other)),
        "the rebuilt node has the master's version and history"
    );
    let (_, status, _) = cli(p, i, &["status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&status).unwrap_or_default();
    assert!(
        status["ha"]["peer"]["conflict"].is_null(),
        "a rebuilt node reports no conflict (nobody changed the config): {}",
        status["ha"]
    );
    let (_, mine, _) = cli(p, i, &["export"]);
    let (_, theirs, _) = cli(p, other, &["export"]);
    assert_eq!(mine, theirs, "the same config text on both nodes");
}

fn echo_round(conn: &mut TcpStream, msg: &[u8]) -> Result<(), String> {
    conn.write_all(msg).map_err(|e| format!("write: {e}"))?;
    let mut got = vec![0u8; msg.len()];
    conn.read_exact(&mut got)
        .map_err(|e| format!("read: {e}"))?;
    (got == msg)
        .then_some(())
        .ok_or_else(|| format!("echoed {got:?}"))
}

/// A planned handover from node `from`, with a user-space TLS connection
/// held across it; returns when the probe has settled after it.
fn handover_with_held(p: &Pair, prober: &Prober, from: usize) -> (Instant, Instant) {
    let held = HeldTls::open(p);
    let t0 = Instant::now();
    let msg = handover(p, from);
    eprintln!("handover from {}: {msg}", NODE_NAMES[from]);
    let to = 1 - from;
    wait_for(
        "the new master owns both VIPs",
        Duration::from_secs(10),
        || p.sole_owner(to),
    );
    let answer = held.finish();
    assert!(
        answer.starts_with("answer HTTP/1.1 200") && answer.contains("ingress="),
        "a held TLS connection survives the handover (drain): {answer}"
    );
    prober.settle_after(Instant::now());
    (t0, Instant::now())
}

/// At most one blackout window began in `from..to`; prints them.
fn at_most_one_window(prober: &Prober, what: &str, from: Instant, to: Instant) {
    let w = prober.windows(from, to);
    eprintln!(
        "{what}: blackout windows {:?}",
        w.iter().map(|x| x.1).collect::<Vec<_>>()
    );
    assert!(w.len() <= 1, "{what}: more than one blackout window: {w:?}");
}

/// While a standby is rebuilt the master serves: no window of a second or
/// more. (Under load 20 to 25, single attempts have failed there, one or
/// two ~0.2-0.3 s windows in some runs; the cause is not established.)
fn no_outage(prober: &Prober, what: &str, from: Instant, to: Instant) {
    let w = prober.windows(from, to);
    eprintln!(
        "{what}: blackout windows {:?}",
        w.iter().map(|x| x.1).collect::<Vec<_>>()
    );
    assert!(
        w.iter().all(|x| x.1 < Duration::from_secs(1)),
        "{what}: the service went dark: {w:?}"
    );
}

#[test]
fn the_pair_upgrades_node_by_node_from_its_export() {
    let mut p = Pair::start(ADVERT);
    assert!(p.sole_owner(0), "a is the master");
    assert!(apply(&p, 0, "v2.toml", &with_forward(&p, 7301)), "a change");

    // The export, with its secrets, in a private file; the redacted one is
    // refused by the check the first boot runs on user data.
    let file = p.dir.path().join("export.toml");
    let (ok, out, err) = cli(&p, 0, &["export", "--output", &file.to_string_lossy()]);
    assert!(ok, "{out}{err}");
    assert!(err.contains("WARNING") && err.contains("ha.key"), "{err}");
    let mode = std::fs::metadata(&file)
        .expect("export")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the export file is private");
    let user_data = std::fs::read_to_string(&file).expect("read export");
    let (_, redacted, _) = cli(&p, 0, &["export", "--redact"]);
    let masked = p.dir.path().join("redacted.toml");
    std::fs::write(&masked, &redacted).expect("write");
    let check = Command::new(exe())
        .args(["check", "--config"])
        .arg(&masked)
        .output()
        .expect("parvis check");
    let says = String::from_utf8_lossy(&check.stdout).to_string()
        + &String::from_utf8_lossy(&check.stderr);
    assert!(!check.status.success() && says.contains("ha.key"), "{says}");
    // A change after the export: the rebuilt nodes must catch up to it.
    assert!(
        apply(&p, 0, "v3.toml", &with_forward(&p, 7302)),
        "a later change"
    );

    // On a loaded machine (load 20) an apply has once made the master's
    // health check fail and the pair fail over: the steps below start from
    // whichever node is the master once the pair is settled.
    wait_for(
        "one node owns both VIPs, the other is BACKUP",
        Duration::from_secs(20),
        || (p.sole_owner(0) && p.role(1) == "BACKUP") || (p.sole_owner(1) && p.role(0) == "BACKUP"),
    );
    let m = usize::from(!p.sole_owner(0));
    let s = 1 - m;
    let prober = Prober::start(p.topo.client().name(), Duration::from_millis(100));
    wait_for("the probe gets through", Duration::from_secs(10), || {
        prober.tries.lock().is_ok_and(|t| t.iter().any(|x| x.1))
    });
    let mut echo = connect_from(
        p.topo.client(),
        (FLOATING_IP, ECHO_PORT).into(),
        Duration::from_secs(2),
    )
    .expect("held forwarded connection");
    echo.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    echo_round(&mut echo, b"before").expect("echo before");

    // 1. Rebuild the standby: the master keeps serving.
    let t = Instant::now();
    rebuild(&mut p, s, &user_data);
    rejoined(&p, s, m);
    prober.settle_after(Instant::now());
    no_outage(&prober, "rebuilding the first standby", t, Instant::now());

    // 2. Hand over to it.
    let (t0, t1) = handover_with_held(&p, &prober, m);
    at_most_one_window(&prober, "the handover", t0, t1);
    echo_round(&mut echo, b"moved").expect("the forwarded connection after the handover");

    // 3. Rebuild the old master, now the standby: the new master serves.
    let t = Instant::now();
    rebuild(&mut p, m, &user_data);
    rejoined(&p, m, s);
    prober.settle_after(Instant::now());
    no_outage(&prober, "rebuilding the second standby", t, Instant::now());

    // 4. Hand back.
    let (t0, t1) = handover_with_held(&p, &prober, s);
    at_most_one_window(&prober, "the hand-back", t0, t1);
    echo_round(&mut echo, b"back").expect("the forwarded connection after the hand-back");

    let (va, ha) = versions(&p, 0);
    assert_eq!((va, ha), versions(&p, 1), "one version on both nodes");
    assert_eq!(history(&p, 0), history(&p, 1), "one history on both nodes");
    assert!(
        va >= 3,
        "the change made after the export is in force: {va}"
    );

    // The probe sees an outage when there is one: new TLS connections
    // dropped at the router for 1.5 s make one window of at least that.
    // (A crash is no such check: with keepalived's priority-0 advert the
    // peer may take over between two attempts 100 ms apart.)
    let dark = "table inet pv-dark {\n\tchain c {\n\t\ttype filter hook prerouting priority -300; policy accept;\n\t\ttcp dport 443 drop\n\t}\n}\n";
    let router = p.topo.router();
    let t = Instant::now();
    router
        .run_with_input(&["nft", "-f", "-"], dark.as_bytes())
        .expect("drop TLS at the router");
    std::thread::sleep(Duration::from_millis(1500));
    router
        .run(&["nft", "delete", "table", "inet", "pv-dark"])
        .expect("let TLS through again");
    prober.settle_after(Instant::now());
    let w = prober.windows(t, Instant::now());
    let tries = prober.sorted();
    let during: Vec<_> = tries
        .iter()
        .filter(|x| x.0 >= t)
        .map(|x| (x.0 - t, x.1))
        .collect();
    eprintln!("DEBUG attempts since the drop: {during:?}");
    eprintln!(
        "forced outage: blackout windows {:?}",
        w.iter().map(|x| x.1).collect::<Vec<_>>()
    );
    assert!(
        w.iter().any(|x| x.1 >= Duration::from_millis(1400)),
        "the probe sees a 1.5 s outage: {w:?}"
    );
}
