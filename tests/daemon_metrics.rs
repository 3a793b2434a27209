//! `/metrics` of the real daemon in the lab: per-route connections and
//! bytes after TLS connections through the floating IP, a health-check
//! transition of a dead server, and the whole exposition accepted by
//! `promtool check metrics`.

mod e2e_support;

use e2e_support::*;
use parvis::lab::{INGRESS, SERVER};

/// The metrics text, read inside the appliance.
fn metrics(lab: &Lab) -> String {
    curl(lab.topo.appliance(), &["http://127.0.0.1:9108/metrics"])
}

/// The value of the sample `line` starts with (`name{labels}`), if any.
fn value(text: &str, sample: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(sample))
        .and_then(|rest| rest.trim().parse().ok())
}

/// `promtool check metrics` parses and lints it: both must pass.
fn promtool_accepts(text: &str) {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("promtool (apt-get install prometheus): {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn routes_and_health_transitions_are_counted_and_promtool_accepts_them() {
    let [i1, i2] = INGRESS;
    let dead = format!("{SERVER}:9");
    let lab = lab_with(|t| {
        let all =
            format!("servers = [\"{i1}:443\", \"{i2}:443\"]\nproxy_protocol = \"v2\"\nbalance");
        assert!(t.contains(&all), "the sample config changed");
        let with_dead = all.replace("443\"]", &format!("443\", \"{dead}\"]"));
        t.replace(&all, &with_dead) + "\n[metrics]\nlisten = \"127.0.0.1:9108\"\n"
    });
    for _ in 0..2 {
        assert!(lab.https(host_a(), "/").contains("ingress="), "route a");
    }
    assert!(lab.https(host_b(), "/").contains("ingress="), "route b");
    assert!(
        lab.https("elsewhere.example", "/").contains("ingress="),
        "default"
    );

    let a = format!(
        "parvis_route_connections_total{{listener=\"https\",route=\"{}\",backend=\"ingress-a\"}}",
        host_a()
    );
    let b = format!(
        "parvis_route_connections_total{{listener=\"https\",route=\"{},*.paroisses.example.org\",backend=\"ingress-b\"}}",
        host_b()
    );
    let default = "parvis_route_connections_total{listener=\"https\",route=\"default\",backend=\"ingress-all\"}";
    let down = format!(
        "parvis_health_transitions_total{{backend=\"ingress-all\",server=\"{dead}\",to=\"down\"}}"
    );
    let mut text = String::new();
    let counted = eventually(10, || {
        text = metrics(&lab);
        value(&text, &a) == Some(2.0)
            && value(&text, &b) == Some(1.0)
            && value(&text, default) == Some(1.0)
            && value(&text, &down) == Some(1.0)
    });
    assert!(
        counted,
        "{a} 2, {b} 1, {default} 1, {down} 1 expected in:\n{text}"
    );
    let bytes_out = format!(
        "parvis_route_bytes_total{{listener=\"https\",route=\"{}\",backend=\"ingress-a\",direction=\"out\"}}",
        host_a()
    );
    let out = value(&text, &bytes_out).unwrap_or_default();
    assert!(
        out > 1000.0,
        "{bytes_out} {out}: a TLS handshake and a page"
    );
    let up = format!(
        "parvis_health_transitions_total{{backend=\"ingress-all\",server=\"{i1}:443\",to=\"down\"}}"
    );
    assert_eq!(
        value(&text, &up),
        Some(0.0),
        "a live server never went down"
    );
    promtool_accepts(&text);
}
