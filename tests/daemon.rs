//! End to end through the lab with the real daemon (`parvis serve`): the
//! client on the "internet" reaches the ingress nodes through the
//! floating-IP NAT and parvis, and the ingress is told the client's real
//! address; the in-kernel forward; the admin API over HTTPS; the CLI over
//! the control socket. Root, namespaces, real peers.

mod e2e_support;

use e2e_support::*;
use parvis::lab::{appliance::FORWARD_PORT, FLOATING_IP};

#[test]
fn client_address_survives_sni_routing_and_the_forward() {
    let lab = lab();
    let a = lab.https(host_a(), "/");
    assert!(
        a.starts_with("ingress=ingress1 client=198.51.100.10:"),
        "{a}"
    );
    assert!(
        a.contains("proxy=v2") && a.contains(&format!("authority={}", host_a())),
        "{a}"
    );
    let b = lab.https(host_b(), "/");
    assert!(
        b.starts_with("ingress=ingress2 client=198.51.100.10:"),
        "{b}"
    );
    let w = lab.https("chapelle.paroisses.example.org", "/");
    assert!(w.starts_with("ingress=ingress2 "), "wildcard route: {w}");
    let d = lab.https("unknown.example.net", "/");
    assert!(
        d.contains("client=198.51.100.10:") && d.contains("sni=unknown.example.net"),
        "default backend: {d}"
    );
    let h = client_curl(
        &lab.topo,
        &[
            "-H",
            &format!("Host: {}", host_a()),
            &format!("http://{FLOATING_IP}/"),
        ],
    );
    assert!(
        h.contains("client=198.51.100.10:") && h.contains("proxy=v1"),
        "http by Host: {h}"
    );
    let f = client_curl(
        &lab.topo,
        &[&format!("http://{FLOATING_IP}:{FORWARD_PORT}/")],
    );
    assert!(
        f.starts_with("ingress=server client=198.51.100.10:") && f.contains("proxy=none"),
        "forward: {f}"
    );
    // A port nobody serves is dropped (timeout, curl 28), not refused (7).
    let closed = lab.client_curl_raw(&[&format!("http://{FLOATING_IP}:9999/")]);
    assert_eq!(closed.status.code(), Some(28), "{closed:?}");
}

#[test]
fn cli_shows_the_running_daemon() {
    let lab = lab();
    let _ = lab.https(host_a(), "/");
    let status = lab.cli(&["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{status:?}");
    assert!(
        text.contains("lab-edge") && text.contains("public") && text.contains("ens3"),
        "{text}"
    );
    let routes = String::from_utf8_lossy(&lab.cli(&["routes"]).stdout).into_owned();
    assert!(
        routes.contains(host_a()) && routes.contains("ingress-a") && routes.contains("up"),
        "{routes}"
    );
    let rules = String::from_utf8_lossy(&lab.cli(&["ruleset"]).stdout).into_owned();
    assert!(
        rules.contains("table inet parvis") && rules.contains("listener https"),
        "{rules}"
    );
    let json = lab.cli(&["status", "--json"]);
    let v: serde_json::Value =
        serde_json::from_slice(&json.stdout).unwrap_or_else(|e| panic!("{e}: {json:?}"));
    assert_eq!(v["name"], "lab-edge");
    assert_eq!(v["config_version"], 1);
    // A live connection shows in `conns` while it is held open.
    let resolve = format!("{}:443:{FLOATING_IP}", host_a());
    let url = format!("https://{}/hold?secs=4", host_a());
    let mut held = lab.topo.client().command("curl");
    held.args(["-sk", "--max-time", "10", "--resolve", &resolve, &url]);
    let mut child = held.spawn().unwrap_or_else(|e| panic!("{e}"));
    let seen = eventually(3, || {
        let conns = String::from_utf8_lossy(&lab.cli(&["conns"]).stdout).into_owned();
        conns.contains("198.51.100.10") && conns.contains(host_a())
    });
    let _ = child.wait();
    assert!(seen, "the held connection never showed in `parvis conns`");
}

#[test]
fn admin_api_over_https_needs_a_session() {
    let lab = lab();
    let base = format!("https://{FLOATING_IP}:8443");
    let anon = lab.client_curl_raw(&[
        "-k",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("{base}/api/v1/status"),
    ]);
    assert_eq!(String::from_utf8_lossy(&anon.stdout), "401");
    let (jar, csrf) = lab.login("jar");
    assert_eq!(csrf.len(), 64, "a CSRF token comes with the session");
    let status = client_curl(
        &lab.topo,
        &["-k", "-b", &jar, &format!("{base}/api/v1/status")],
    );
    let v: serde_json::Value =
        serde_json::from_str(&status).unwrap_or_else(|e| panic!("{e}: {status}"));
    assert_eq!(v["name"], "lab-edge");
    assert!(
        v["interfaces"]
            .as_array()
            .is_some_and(|l| l.iter().any(|i| i["role"] == "public")),
        "{status}"
    );
}
