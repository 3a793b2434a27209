//! The per-source meters of `[limits]` with real packets, in the
//! three-namespace topology of the firewall tests: the rate and its ban (a
//! listener and a forward), `conn_max`. `parvis firewall apply` in the
//! appliance, Python clients in the client namespace. Needs root.

mod attack_support;
mod firewall_support;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use firewall_support::{Topo, PUBLIC};

const C1: &str = "198.51.100.10";
const C2: &str = "198.51.100.11";

fn timed_out(r: Result<String, String>) -> Duration {
    let start = Instant::now();
    let err = r.expect_err("expected no answer");
    assert!(!err.contains("refused"), "expected a timeout, got: {err}");
    start.elapsed()
}

const RATE: &str = r#"
[limits]
conn_rate = "5/second"
conn_burst = 10
ban = "6s"

[[listener]]
name = "https"
bind = "0.0.0.0:443"
protocol = "tls"
"#;

/// Opens N connections as fast as it can from SRC; prints "ok failed". A
/// connection counts as ok when the server's answer arrives: the meter
/// sees a connection after its handshake, so an over-limit connection
/// does connect and then stalls.
const BURST: &str = r#"
import socket, sys
src, dst, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ok = failed = 0
for _ in range(n):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(0.3)
    try:
        s.connect((dst, port))
        if s.recv(64):
            ok += 1
        else:
            failed += 1
    except OSError:
        failed += 1
    s.close()
print(ok, failed)
"#;

fn burst(t: &Topo, src: &str, n: u32) -> (u32, u32) {
    burst_to(t, src, 443, n)
}

fn burst_to(t: &Topo, src: &str, port: u16, n: u32) -> (u32, u32) {
    let out = t.python(BURST, &[src, PUBLIC, &port.to_string(), &n.to_string()]);
    let v: Vec<u32> = out
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    assert_eq!(v.len(), 2, "probe printed {out:?}");
    (v[0], v[1])
}

#[test]
fn conn_rate_over_burst_bans_the_source_only() {
    let mut t = Topo::new("rate");
    let a = t.appliance.clone();
    t.tell_peer_tcp(&a, 443);
    t.apply(RATE);
    // The second client keeps connecting, slowly, while the first floods.
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut results = Vec::new();
            for _ in 0..6 {
                results.push(t.tcp(C2, PUBLIC, 443, ""));
                std::thread::sleep(Duration::from_millis(300));
            }
            let _ = tx.send(results);
        });
        let (ok, failed) = burst(&t, C1, 18);
        assert!(
            (8..=16).contains(&ok),
            "about the burst (10) gets through, got {ok} ok / {failed} failed"
        );
        assert_eq!(ok + failed, 18);
        let bans = t.parvis(&["bans"]);
        let err = String::from_utf8_lossy(&bans.stderr).into_owned();
        let bans = String::from_utf8_lossy(&bans.stdout);
        assert!(
            bans.contains(C1),
            "C1 is banned: {bans:?} {err} ({ok} ok, {failed} failed)\n{}",
            t.table_text()
        );
        timed_out(t.tcp(C1, PUBLIC, 443, ""));
        let c2 = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("second client done");
        assert!(
            c2.iter().all(|r| r.as_deref() == Ok(C2)),
            "the second client is unaffected: {c2:?}"
        );
        assert!(!bans.contains(C2), "C2 is not banned: {bans:?}");
    });
    // The ban is 6s; after it C1 gets through again.
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(t.tcp(C1, PUBLIC, 443, ""), Ok(C1.into()), "ban expired");
}

/// The rate meter also holds for a forward: the connection over the
/// rate is reset in `forward` and its source banned; another source goes
/// on through the same forward.
#[test]
fn conn_rate_bans_a_flood_through_a_forward() {
    let mut t = Topo::new("frate");
    let s = t.server.clone();
    t.tell_peer_tcp(&s, 22);
    let cfg = format!(
        "{RATE}\n[[forward]]\nproto = \"tcp\"\nport = 2222\nto = \"10.0.0.20:22\"\nmasquerade = false\n"
    );
    t.apply(&cfg);
    let (ok, failed) = burst_to(&t, C1, 2222, 18);
    eprintln!("forward flood from {C1}: {ok} of 18 answered");
    assert!(
        (8..=16).contains(&ok),
        "about the burst (10) gets through, got {ok} ok / {failed} failed"
    );
    let bans = t.parvis(&["bans"]);
    let bans = String::from_utf8_lossy(&bans.stdout);
    assert!(bans.contains(C1), "C1 is banned: {bans}");
    let counters = t.parvis(&["counters"]);
    let counters = String::from_utf8_lossy(&counters.stdout);
    assert!(
        counters.lines().any(|l| l.starts_with("forward ")
            && l.ends_with("refused by a meter")
            && !l.starts_with("forward 0 ")),
        "the refused connection was reset in forward: {counters}"
    );
    assert_eq!(t.tcp(C2, PUBLIC, 2222, ""), Ok(C2.into()));
}

/// `conn_max` on a forward (the kernel counts the forwards; the
/// forwarder counts its listeners, see `tests/limits_conn_max.rs`).
const CONN_MAX: &str = r#"
[limits]
conn_max = 3

[[forward]]
proto = "tcp"
port = 2222
to = "10.0.0.20:22"
masquerade = false
"#;

#[test]
fn conn_max_caps_concurrent_connections_per_source() {
    let mut t = Topo::new("cmax");
    let s = t.server.clone();
    t.hold_tcp(&s, 22);
    t.apply(CONN_MAX);
    // The meter sees a connection after its handshake and resets one
    // over `conn_max`; `hold` counts those still open a second later.
    let client = t.lab.client();
    assert_eq!(attack_support::hold(client, C1, PUBLIC, 2222, 5), 3);
    assert_eq!(
        attack_support::hold(client, C2, PUBLIC, 2222, 2),
        2,
        "another source has its own count"
    );
}
