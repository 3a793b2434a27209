//! Attacks on the per-source limits and bans of the real daemon in the lab
//! (`parvis serve` in the appliance namespace, the client behind the
//! floating IP, an attacker forging segments from the router on the
//! public side). Root, namespaces, real TCP.

mod attack_support;
mod e2e_support;

use std::time::Duration;

use attack_support::{firewall, flood, forge, tcp, Session};
use e2e_support::*;
use parvis::lab::{APPLIANCE_PUBLIC, CLIENT, CLIENT_2, FLOATING_IP};

/// The lab's sample config with tight limits and `admin.allow` narrowed to
/// the admin's own address (CLIENT), so CLIENT_2 is an ordinary client.
fn tight(text: String) -> String {
    let pairs = [
        (
            "allow = [\"198.51.100.0/24\"]",
            "allow = [\"198.51.100.10/32\"]",
        ),
        (
            "conn_rate = \"100/second\"\nconn_burst = 200",
            "conn_rate = \"5/second\"\nconn_burst = 10",
        ),
    ];
    pairs.iter().fold(text, |t, (from, to)| {
        assert!(t.contains(from), "the lab config has no {from:?}");
        t.replace(from, to)
    })
}

/// A stand-in for sshd on port 22 of the appliance.
fn ssh_stand_in(lab: &Lab) -> parvis::lab::ChildGuard {
    let guard = lab
        .topo
        .appliance()
        .spawn(&["socat", "TCP-LISTEN:22,reuseaddr,fork", "SYSTEM:echo ssh"])
        .unwrap_or_else(|e| panic!("socat on 22: {e}"));
    wait_tcp(lab.topo.appliance(), APPLIANCE_PUBLIC, 22);
    guard
}

fn admin_status(lab: &Lab) -> String {
    let url = format!("https://{FLOATING_IP}:8443/login");
    let out = lab.client_curl_raw(&["-k", "-o", "/dev/null", "-w", "%{http_code}", &url]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn banned(lab: &Lab, addr: &str) -> bool {
    firewall(&lab.topo, &["bans"])
        .lines()
        .any(|l| l.split_whitespace().next() == Some(addr))
}

/// Forged SYNs (and blind ACKs) "from" the admin never ban the admin;
/// the admin's open session, a new admin connection and SSH survive; a
/// real flood of completed connections from another source is banned.
#[test]
fn forged_syns_ban_nobody_and_a_real_flood_still_bans() {
    let lab = lab_with(tight);
    let _ssh = ssh_stand_in(&lab);
    let fip = FLOATING_IP.to_string();
    let admin = CLIENT.to_string();
    let (mut session, first) = Session::open(lab.topo.client(), &fip, 8443);
    assert!(first.starts_with("HTTP/1.1 401"), "session opened: {first}");

    // 400 SYNs and 400 blind ACKs from the admin's address, to the
    // listeners and the forward: 40 times the burst.
    let ports = [443, 80, parvis::lab::appliance::FORWARD_PORT];
    let dst = APPLIANCE_PUBLIC.to_string();
    let sent = forge(lab.topo.router(), &admin, &dst, &ports, 400);
    assert_eq!(sent, 800);
    eprintln!("forged {sent} segments (400 SYN, 400 blind ACK) from {admin}");
    std::thread::sleep(Duration::from_millis(500));

    let bans = firewall(&lab.topo, &["bans"]);
    assert!(
        !banned(&lab, &admin),
        "forged SYNs banned the admin: {bans}"
    );
    assert_eq!(session.again(), "HTTP/1.1 401 Unauthorized", "open session");
    assert_eq!(admin_status(&lab), "200", "new admin connection");
    assert_eq!(tcp(lab.topo.client(), &admin, &fip, 22), Ok("ssh".into()));
    let site = lab.https(host_a(), "/");
    assert!(site.starts_with("ingress=ingress1 "), "public site: {site}");

    // A real flood: 40 completed connections from CLIENT_2 at full speed.
    let other = CLIENT_2.to_string();
    let answered = flood(lab.topo.client(), &other, &fip, 443, 40);
    eprintln!("flood of 40 completed connections from {other}: {answered} answered");
    assert!(
        (8..=20).contains(&answered),
        "about the burst (10) is served, got {answered} of 40"
    );
    assert!(banned(&lab, &other), "{}", firewall(&lab.topo, &["bans"]));
    assert!(tcp(lab.topo.client(), &other, &fip, 443).is_err());
    assert!(!banned(&lab, &admin));
}

/// Whatever the bans do, `admin.allow` keeps the admin port, SSH and its
/// open connections: the admin banned by hand loses the public sites only.
#[test]
fn a_banned_admin_keeps_the_admin_port_ssh_and_its_session() {
    let lab = lab_with(tight);
    let _ssh = ssh_stand_in(&lab);
    let fip = FLOATING_IP.to_string();
    let admin = CLIENT.to_string();
    let (mut session, first) = Session::open(lab.topo.client(), &fip, 8443);
    assert!(first.starts_with("HTTP/1.1 401"), "{first}");
    firewall(&lab.topo, &["ban", &admin, "--for", "120"]);
    assert!(banned(&lab, &admin));
    assert_eq!(session.again(), "HTTP/1.1 401 Unauthorized", "open session");
    assert_eq!(admin_status(&lab), "200", "new admin connection");
    assert_eq!(tcp(lab.topo.client(), &admin, &fip, 22), Ok("ssh".into()));
    let site = lab.client_curl_raw(&["-k", &format!("https://{fip}/")]);
    assert_eq!(
        site.status.code(),
        Some(28),
        "public sites dropped: {site:?}"
    );
}

/// Ten wrong passwords close the admin port and SSH to their source, and
/// nothing else: the public sites stay open to everyone behind it.
#[test]
fn a_login_ban_closes_the_admin_port_not_the_public_sites() {
    let lab = lab();
    let _ssh = ssh_stand_in(&lab);
    let fip = FLOATING_IP.to_string();
    let url = format!("https://{fip}:8443/api/v1/session");
    let body = r#"{"username":"admin","password":"wrong"}"#;
    let mut tries = 0;
    let timed_out = loop {
        tries += 1;
        let out = lab.client_curl_raw(&[
            "-k",
            "-H",
            "Content-Type: application/json",
            "-d",
            body,
            &url,
        ]);
        if out.status.code() == Some(28) {
            break true;
        }
        if tries >= 14 {
            break false;
        }
    };
    assert!(
        timed_out,
        "the admin port still answers after {tries} tries"
    );
    let site = lab.https(host_a(), "/");
    assert!(
        site.starts_with("ingress=ingress1 client=198.51.100.10:"),
        "the public site stays open to the banned source: {site}"
    );
    let http = client_curl(
        &lab.topo,
        &[
            "-H",
            &format!("Host: {}", host_a()),
            &format!("http://{fip}/"),
        ],
    );
    assert!(http.contains("client=198.51.100.10:"), "{http}");
    let bans = firewall(&lab.topo, &["bans"]);
    assert!(
        bans.lines()
            .any(|l| l.starts_with("198.51.100.10 ") && l.ends_with(" admin")),
        "a login ban: {bans}"
    );
    assert_eq!(admin_status(&lab), "000", "admin port closed to it");
    let ssh = tcp(lab.topo.client(), &CLIENT.to_string(), &fip, 22);
    assert!(
        ssh.is_err() || ssh == Ok(String::new()),
        "SSH closed: {ssh:?}"
    );
    let other = CLIENT_2.to_string();
    let out = tcp(lab.topo.client(), &other, &fip, 22);
    assert_eq!(out, Ok("ssh".into()), "another admin address is not banned");
}

/// A meter that cannot hold another source refuses it (fail closed)
/// instead of letting it through unmetered, says so in the metrics, and
/// still never touches `admin.allow` on the admin port.
#[test]
fn a_full_meter_refuses_new_sources_and_reports_it() {
    let lab = lab_with(|t| {
        assert!(
            t.contains("ban = \"1m\"") && !t.contains("[metrics]"),
            "{t}"
        );
        t.replace("ban = \"1m\"", "ban = \"1m\"\nmeter_size = 16")
            + "\n[metrics]\nlisten = \"127.0.0.1:9108\"\n"
    });
    let client = lab.topo.client();
    let sources: Vec<String> = (20..44).map(|i| format!("198.51.100.{i}")).collect();
    for s in &sources {
        client
            .ip(&["addr", "add", &format!("{s}/24"), "dev", "eth0"])
            .unwrap_or_else(|e| panic!("address {s}: {e}"));
    }
    let fip = FLOATING_IP.to_string();
    let answered: Vec<bool> = sources
        .iter()
        .map(|s| flood(client, s, &fip, 443, 1) == 1)
        .collect();
    let served = answered.iter().filter(|a| **a).count();
    assert_eq!(served, 16, "16 sources fit, 8 refused: {answered:?}");
    assert!(answered[..16].iter().all(|a| *a), "{answered:?}");
    let counters = firewall(&lab.topo, &["counters"]);
    assert!(
        counters
            .lines()
            .any(|l| l.contains("full, new source refused") && !l.contains(" 0 0 ")),
        "{counters}"
    );
    let metrics = curl(lab.topo.appliance(), &["http://127.0.0.1:9108/metrics"]);
    for line in [
        "parvis_limits_set_elements{set=\"rate4\"} 16",
        "parvis_limits_set_size{set=\"rate4\"} 16",
        "parvis_limits_set_size{set=\"ban4\"} 16",
    ] {
        assert!(metrics.contains(line), "{line} in:\n{metrics}");
    }
    // The admin port from a source no meter holds.
    let url = format!("https://{fip}:8443/login");
    let out = lab.client_curl_raw(&[
        "-k",
        "--interface",
        &sources[20],
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &url,
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200");
}

/// `limits.block` and the rate limits covering the admin's own address
/// (a config applied from the console or the file, where no caller is
/// known) never cut an `admin.allow` source from the admin port or SSH:
/// the firewall accepts it there before the block list and the meters. A
/// blocked source outside `admin.allow` is dropped everywhere, as before.
#[test]
fn a_block_list_and_limits_over_the_admin_spare_the_admin_port_and_ssh() {
    let lab = lab_with(|t| {
        let t = tight(t);
        let from = "block = [\"203.0.113.128/25\"]";
        assert!(t.contains(from), "{t}");
        t.replace(from, "block = [\"198.51.100.0/24\"]")
    });
    let _ssh = ssh_stand_in(&lab);
    let fip = FLOATING_IP.to_string();
    let admin = CLIENT.to_string();
    let (mut session, first) = Session::open(lab.topo.client(), &fip, 8443);
    assert!(first.starts_with("HTTP/1.1 401"), "{first}");
    assert_eq!(admin_status(&lab), "200", "new admin connection");
    assert_eq!(tcp(lab.topo.client(), &admin, &fip, 22), Ok("ssh".into()));
    // Four times the burst (10) of completed connections, at full speed,
    // to the admin port and to SSH: all served, no ban.
    for port in [8443, 22] {
        let answered = flood(lab.topo.client(), &admin, &fip, port, 40);
        assert_eq!(answered, 40, "admin flood on {port}");
    }
    assert!(!banned(&lab, &admin), "{}", firewall(&lab.topo, &["bans"]));
    assert_eq!(session.again(), "HTTP/1.1 401 Unauthorized", "open session");
    assert_eq!(admin_status(&lab), "200", "admin port after the floods");
    // The public sites are blocked for the admin too.
    let site = lab.client_curl_raw(&["-k", &format!("https://{fip}/")]);
    assert_eq!(site.status.code(), Some(28), "public site: {site:?}");
    // Outside admin.allow: dropped on every port.
    let other = CLIENT_2.to_string();
    for port in [8443, 22, 443] {
        let out = tcp(lab.topo.client(), &other, &fip, port);
        assert!(out.is_err(), "{other} reached port {port}: {out:?}");
    }
    let counters = firewall(&lab.topo, &["counters"]);
    assert!(
        counters
            .lines()
            .any(|l| l.contains("limits.block") && !l.contains(" 0 0 ")),
        "{counters}"
    );
}
