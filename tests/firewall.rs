//! The nftables data path with real packets: three namespaces (client,
//! appliance, server), `parvis firewall apply` in the appliance, socat and
//! Python clients in the client namespace. Needs root.

mod firewall_support;

use std::io::{BufRead, BufReader, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use firewall_support::{Topo, PUBLIC};

const C1: &str = "198.51.100.10";
const C2: &str = "198.51.100.11";
const BLOCKED: &str = "203.0.113.5";

/// Forwards of every kind, a listener, the admin port, a block list.
const BASE: &str = r#"
[admin]
listen = "0.0.0.0:8443"
allow = ["198.51.100.10/32"]

[limits]
block = ["203.0.113.0/28"]

[[listener]]
name = "https"
bind = "0.0.0.0:443"
protocol = "tls"

[[forward]]
proto = "tcp"
port = 2222
to = "10.0.0.20:22"
masquerade = true

[[forward]]
proto = "tcp"
port = 2223
to = "10.0.0.20:23"
masquerade = false

[[forward]]
proto = "udp"
port = 4000
to = "10.0.0.20:4001"

[[forward]]
proto = "tcp"
port = "30000-30010"
to = "10.0.0.20"
masquerade = true
"#;

fn timed_out(r: Result<String, String>) -> Duration {
    let start = Instant::now();
    let err = r.expect_err("expected no answer");
    assert!(!err.contains("refused"), "expected a timeout, got: {err}");
    start.elapsed()
}

#[test]
fn forwards_reach_the_server_with_and_without_masquerade() {
    let mut t = Topo::new("fwd");
    let s = t.server.clone();
    t.tell_peer_tcp(&s, 22);
    t.tell_peer_tcp(&s, 23);
    t.tell_peer_tcp(&s, 30005);
    t.tell_peer_udp(&s, 4001);
    t.apply(BASE);
    assert_eq!(
        t.tcp(C1, PUBLIC, 2222, ""),
        Ok("10.0.0.1".into()),
        "masquerade"
    );
    assert_eq!(
        t.tcp(C1, PUBLIC, 2223, ""),
        Ok(C1.into()),
        "client address kept"
    );
    assert_eq!(
        t.tcp(C2, PUBLIC, 30005, ""),
        Ok("10.0.0.1".into()),
        "port range"
    );
    assert_eq!(t.udp(C1, PUBLIC, 4000, "hi"), Ok(C1.into()), "udp");
}

#[test]
fn unserved_port_and_blocked_prefix_get_no_answer() {
    let mut t = Topo::new("deny");
    let a = t.appliance.clone();
    let s = t.server.clone();
    // Something listens on 9999 in the appliance: only the firewall keeps it dark.
    t.tell_peer_tcp(&a, 9999);
    t.tell_peer_tcp(&a, 443);
    t.tell_peer_tcp(&s, 22);
    t.apply(BASE);
    let start = Instant::now();
    let err = t
        .tcp(C1, PUBLIC, 9999, "")
        .expect_err("9999 must not answer");
    assert!(!err.contains("refused"), "a refusal leaks a reply: {err}");
    assert!(
        start.elapsed() >= Duration::from_millis(1400),
        "no answer means a timeout"
    );
    assert_eq!(
        t.tcp(C1, PUBLIC, 443, ""),
        Ok(C1.into()),
        "listener answers"
    );
    timed_out(t.tcp(BLOCKED, PUBLIC, 443, ""));
    timed_out(t.tcp(BLOCKED, PUBLIC, 2222, ""));
    let ping = t.exec(&t.client, &["ping", "-c1", "-W1", "-I", BLOCKED, PUBLIC]);
    assert!(
        !ping.status.success(),
        "a blocked source gets no echo reply"
    );
    let ping = t.exec(&t.client, &["ping", "-c1", "-W1", "-I", C2, PUBLIC]);
    assert!(ping.status.success(), "echo is answered");
    let blocked = t.parvis(&["blocked"]);
    assert_eq!(String::from_utf8_lossy(&blocked.stdout), "203.0.113.0/28\n");
    let counters = t.parvis(&["counters"]);
    let counters = String::from_utf8_lossy(&counters.stdout);
    let count = |prefix: &str| -> u64 {
        let line = counters
            .lines()
            .find(|l| l.starts_with(prefix) && !l.starts_with(&format!("{prefix} 0 ")));
        line.and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    assert!(counters.contains("input "), "{counters}");
    assert!(
        count("guard") >= 3,
        "blocked packets are counted: {counters}"
    );
    assert!(
        counters.lines().any(|l| l.starts_with("input ")
            && l.ends_with("listener https")
            && !l.starts_with("input 0 ")),
        "{counters}"
    );
}

#[test]
fn admin_port_only_from_admin_allow() {
    let mut t = Topo::new("adm");
    let a = t.appliance.clone();
    t.tell_peer_tcp(&a, 8443);
    t.apply(BASE);
    assert_eq!(t.tcp(C1, PUBLIC, 8443, ""), Ok(C1.into()));
    timed_out(t.tcp(C2, PUBLIC, 8443, ""));
}

#[test]
fn refused_ruleset_leaves_the_old_one_in_force() {
    let mut t = Topo::new("refuse");
    let s = t.server.clone();
    t.tell_peer_tcp(&s, 22);
    t.tell_peer_tcp(&s, 24);
    t.apply(BASE);
    assert_eq!(t.tcp(C1, PUBLIC, 2222, ""), Ok("10.0.0.1".into()));
    let before = t.table_text();
    let newer =
        format!("{BASE}\n[[forward]]\nproto = \"tcp\"\nport = 2224\nto = \"10.0.0.20:24\"\n");
    let path = t.config("newer.toml", &newer);
    let out = t.parvis(&[
        "apply",
        "--config",
        &path.to_string_lossy(),
        "--inject-invalid-rule",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "refused: exit 1");
    assert!(
        err.contains("Error:") && err.contains("previous ruleset is still in force"),
        "nft's message reaches the operator: {err}"
    );
    assert_eq!(t.table_text(), before, "byte for byte the same table");
    let check = t.parvis(&["check", "--config", &path.to_string_lossy()]);
    assert_eq!(
        String::from_utf8_lossy(&check.stdout),
        "ok\n",
        "the newer config itself is acceptable"
    );
    assert_eq!(t.table_text(), before, "check changes nothing");
    assert_eq!(
        t.tcp(C1, PUBLIC, 2222, ""),
        Ok("10.0.0.1".into()),
        "old forward still works"
    );
    timed_out(t.tcp(C1, PUBLIC, 2224, ""));
}

#[test]
fn reapplying_keeps_established_connections_and_bans() {
    let mut t = Topo::new("again");
    let s = t.server.clone();
    t.echo_tcp(&s, 22);
    t.apply(&format!("{BASE}\n"));
    let target = format!("TCP:{PUBLIC}:2222,bind={C1}");
    let mut child = t.spawn_piped(&t.client, &["socat", "-", &target]);
    let mut stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    writeln!(stdin, "one").expect("write");
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(3)).as_deref(),
        Ok("one")
    );
    assert!(t
        .parvis(&["ban", "198.51.100.99", "--for", "300"])
        .status
        .success());
    t.apply(BASE);
    t.apply(BASE);
    writeln!(stdin, "two").expect("write");
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(3)).as_deref(),
        Ok("two"),
        "connection survived two applies"
    );
    let bans = t.parvis(&["bans"]);
    assert!(
        String::from_utf8_lossy(&bans.stdout).contains("198.51.100.99"),
        "ban carried over"
    );
    drop(stdin);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn missing_nft_is_one_clear_error() {
    let t = Topo::new("nonft");
    let path = t.config("p.toml", BASE);
    let out = t.exec(
        &t.appliance,
        &[
            "env",
            "PATH=/nonexistent",
            firewall_support::PARVIS,
            "firewall",
            "apply",
            "--config",
            &path.to_string_lossy(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nft binary was not found"), "{err}");
}

#[test]
fn sysctls_are_set_in_the_namespace_only() {
    let host = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").expect("host sysctl");
    let t = Topo::new("sysctl");
    // The lab turns forwarding on in the appliance: off again, so only
    // parvis can have turned it on.
    let off = t.exec(&t.appliance, &["sysctl", "-qw", "net.ipv4.ip_forward=0"]);
    assert!(off.status.success(), "{off:?}");
    t.apply(BASE);
    let get = |key: &str| {
        let out = t.exec(&t.appliance, &["sysctl", "-n", key]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(get("net.ipv4.ip_forward"), "1");
    assert_eq!(get("net.ipv6.conf.all.forwarding"), "1");
    assert_eq!(get("net.ipv4.conf.all.rp_filter"), "1");
    assert_eq!(get("net.ipv4.tcp_syncookies"), "1");
    let redirects = format!("net.ipv4.conf.{}.send_redirects", t.public_port());
    assert_eq!(get(&redirects), "0");
    assert_eq!(get("net.ipv4.conf.all.accept_redirects"), "0");
    let after = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").expect("host sysctl");
    assert_eq!(host, after, "the host's own sysctl is untouched");
}

/// `admin.allow` reaches the admin port and SSH whatever the block list
/// and the bans say; everything else from a blocked or banned source is
/// dropped.
#[test]
fn admin_allow_outranks_block_and_bans_on_the_admin_ports() {
    let mut t = Topo::new("admblk");
    let a = t.appliance.clone();
    t.tell_peer_tcp(&a, 8443);
    t.tell_peer_tcp(&a, 22);
    t.tell_peer_tcp(&a, 443);
    t.apply(&BASE.replace(
        "block = [\"203.0.113.0/28\"]",
        "block = [\"203.0.113.0/28\", \"198.51.100.10\"]",
    ));
    assert_eq!(t.tcp(C1, PUBLIC, 8443, ""), Ok(C1.into()), "admin port");
    assert_eq!(t.tcp(C1, PUBLIC, 22, ""), Ok(C1.into()), "SSH");
    timed_out(t.tcp(C1, PUBLIC, 443, ""));
    t.apply(BASE);
    assert!(t.parvis(&["ban", C1, "--for", "60"]).status.success());
    assert_eq!(t.tcp(C1, PUBLIC, 8443, ""), Ok(C1.into()), "admin port");
    assert_eq!(t.tcp(C1, PUBLIC, 22, ""), Ok(C1.into()), "SSH");
    timed_out(t.tcp(C1, PUBLIC, 443, ""));
    assert_eq!(
        t.tcp(C2, PUBLIC, 443, ""),
        Ok(C2.into()),
        "others unaffected"
    );
}
