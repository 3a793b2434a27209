//! Unit tests of `diff`: one per kind of change, with its text and its steps.

use super::*;
use crate::change::Change;
use crate::config::parse;

const BASE: &str = r#"
[appliance]
name = "edge-1"

[interfaces.public]
name = "ens3"
mtu = 1450

[admin]
listen = "0.0.0.0:8443"
allow = ["198.51.100.0/24"]

[limits]
conn_rate = "50/second"
conn_max = 200

[[listener]]
name = "https"
bind = "0.0.0.0:443"
protocol = "tls"
default_backend = "ingress"

[[route]]
listener = "https"
hosts = ["a.example.org"]
backend = "ingress"

[backend.ingress]
servers = ["10.0.0.11:443", "10.0.0.12:443"]

[[forward]]
proto = "tcp"
port = 2222
to = "10.0.0.20:22"
"#;

/// The changes from BASE to BASE with `from` replaced by `to`.
fn changes(from: &str, to: &str) -> Vec<Change> {
    assert!(BASE.contains(from), "{from:?} not in BASE");
    let old = parse(BASE).expect("base parses");
    let new = parse(&BASE.replacen(from, to, 1)).expect("variant parses");
    diff(&old, &new)
}

/// The one change from BASE to the variant, as text, and its steps
/// (firewall, net, forwarder).
fn one(from: &str, to: &str) -> (String, [bool; 3]) {
    let c = changes(from, to);
    assert_eq!(c.len(), 1, "{c:?}");
    let c = &c[0];
    (
        c.to_string(),
        [c.needs_firewall(), c.needs_net(), c.needs_forwarder()],
    )
}

const FW: [bool; 3] = [true, false, false];
const NET: [bool; 3] = [true, true, false];
const FWD: [bool; 3] = [false, false, true];
const FW_FWD: [bool; 3] = [true, false, true];

#[test]
fn same_config_no_change() {
    let c = parse(BASE).expect("parses");
    assert_eq!(diff(&c, &c), vec![]);
}

#[test]
fn ruleset_items() {
    let (text, steps) = one(
        r#"allow = ["198.51.100.0/24"]"#,
        r#"allow = ["198.51.100.0/24", "203.0.113.5"]"#,
    );
    assert_eq!(
        text,
        "ruleset: admin.allow [198.51.100.0/24] → [198.51.100.0/24, 203.0.113.5]"
    );
    assert_eq!(steps, FW);
    let (text, steps) = one("[admin]\n", "[admin]\nssh_port = 2200\n");
    assert_eq!(text, "ruleset: admin.ssh_port 22 → 2200");
    assert_eq!(steps, FW);
    let (text, steps) = one("conn_max = 200", "conn_max = 300");
    assert_eq!(text, "ruleset: limits.conn_max 200 → 300");
    assert_eq!(steps, FW_FWD, "the forwarder counts conn_max per source");
    let (text, steps) = one("conn_max = 200", "conn_max = 200\nipv6_prefix = 56");
    assert_eq!(text, "ruleset: limits.ipv6_prefix 64 → 56");
    assert_eq!(steps, FW_FWD);
    let (_, steps) = one("conn_max = 200", "conn_max = 200\nblock = [\"192.0.2.66\"]");
    assert_eq!(steps, FW);
    let (text, steps) = one(
        "[[listener]]",
        "[egress]\nmasquerade = [\"10.0.0.0/24\"]\n\n[[listener]]",
    );
    assert_eq!(text, "ruleset: egress.masquerade [] → [10.0.0.0/24]");
    assert_eq!(steps, FW);
    let (text, steps) = one(r#"listen = "0.0.0.0:8443""#, r#"listen = "0.0.0.0:9443""#);
    assert_eq!(text, "admin: listen 0.0.0.0:8443 → 0.0.0.0:9443");
    assert_eq!(steps, [true, false, true]);
}

#[test]
fn limits_report_each_key() {
    // The default burst follows the rate, so both change.
    let c = changes(r#"conn_rate = "50/second""#, r#"conn_rate = "100/second""#);
    let texts: Vec<String> = c.iter().map(Change::to_string).collect();
    assert_eq!(
        texts,
        vec![
            "ruleset: limits.conn_rate 50/second → 100/second",
            "ruleset: limits.conn_burst 100 → 200"
        ]
    );
    let c = changes("conn_max = 200", "conn_max = 300\nblock = [\"192.0.2.66\"]");
    let texts: Vec<String> = c.iter().map(Change::to_string).collect();
    assert_eq!(
        texts,
        vec![
            "ruleset: limits.conn_max 200 → 300",
            "ruleset: limits.block [] → [192.0.2.66]"
        ]
    );
}

#[test]
fn forwards_added_and_removed() {
    let c = changes(r#"to = "10.0.0.20:22""#, r#"to = "10.0.0.21:22""#);
    let texts: Vec<String> = c.iter().map(Change::to_string).collect();
    assert_eq!(
        texts,
        vec![
            "forward tcp 2222 → 10.0.0.20:22: removed",
            "forward tcp 2222 → 10.0.0.21:22: added"
        ]
    );
    assert!(c
        .iter()
        .all(|c| c.needs_firewall() && !c.needs_net() && !c.needs_forwarder()));
}

#[test]
fn interfaces_per_role() {
    let (text, steps) = one("mtu = 1450", "mtu = 1400");
    assert_eq!(text, "interface public: mtu 1450 → 1400");
    assert_eq!(steps, NET);
    let (text, steps) = one(
        "[admin]",
        "[interfaces.internal]\nname = \"ens4\"\n\n[admin]",
    );
    assert_eq!(text, "interface internal: added");
    assert_eq!(steps, NET);
    let (text, _) = one("[interfaces.public]\nname = \"ens3\"\nmtu = 1450\n", "");
    assert_eq!(text, "interface public: removed");
    let (text, _) = one(r#"name = "ens3""#, r#"mac = "fa:16:3e:12:34:56""#);
    assert!(
        text.starts_with("interface public: select Name(\"ens3\") → Mac("),
        "{text}"
    );
}

#[test]
fn listeners_added_removed_rebound_settings() {
    let extra =
        "[[listener]]\nname = \"http\"\nbind = \"0.0.0.0:80\"\nprotocol = \"http\"\n\n[[route]]";
    let (text, steps) = one("[[route]]", extra);
    assert_eq!(text, "listener http: added on 0.0.0.0:80");
    assert_eq!(steps, FW_FWD);
    let old = parse(&BASE.replacen("[[route]]", extra, 1)).expect("parses");
    let new = parse(BASE).expect("parses");
    let c = diff(&old, &new);
    assert_eq!(c.len(), 1);
    assert_eq!(
        c[0].to_string(),
        "listener http: removed (was on 0.0.0.0:80)"
    );
    let (text, steps) = one(r#"bind = "0.0.0.0:443""#, r#"bind = "0.0.0.0:8444""#);
    assert_eq!(text, "listener https: bind 0.0.0.0:443 → 0.0.0.0:8444");
    assert_eq!(steps, FW_FWD);
    let (text, steps) = one(
        "protocol = \"tls\"\n",
        "protocol = \"tls\"\nhello_timeout = \"3s\"\n",
    );
    assert_eq!(text, "listener https: hello_timeout 5s → 3s");
    assert_eq!(steps, FWD);
}

#[test]
fn route_tables_per_listener() {
    let (text, steps) = one(
        r#"hosts = ["a.example.org"]"#,
        r#"hosts = ["b.example.org", "*.c.example.org"]"#,
    );
    assert_eq!(
        text,
        "routes of listener https: +*.c.example.org → ingress +b.example.org → ingress -a.example.org → ingress"
    );
    assert_eq!(steps, FWD);
}

#[test]
fn backends_added_removed_servers_settings() {
    let (text, steps) = one(
        r#""10.0.0.12:443"]"#,
        r#""10.0.0.12:443", "10.0.0.13:443"]"#,
    );
    assert_eq!(text, "backend ingress: server 10.0.0.13:443 added");
    assert_eq!(steps, FWD);
    let (text, _) = one(r#", "10.0.0.12:443"]"#, "]");
    assert_eq!(text, "backend ingress: server 10.0.0.12:443 removed");
    let (text, steps) = one(
        "[[forward]]",
        "[backend.spare]\nservers = [\"10.0.0.30:443\"]\n\n[[forward]]",
    );
    assert_eq!(text, "backend spare: added with [10.0.0.30:443]");
    assert_eq!(steps, FWD);
    let (text, _) = one(
        r#""10.0.0.12:443"]"#,
        "\"10.0.0.12:443\"]\nbalance = \"least-conn\"",
    );
    assert_eq!(text, "backend ingress: balance RoundRobin → LeastConn");
    let old = parse(&BASE.replacen(
        "[[forward]]",
        "[backend.spare]\nservers = [\"10.0.0.30:443\"]\n\n[[forward]]",
        1,
    ))
    .expect("parses");
    let c = diff(&old, &parse(BASE).expect("parses"));
    assert_eq!(
        c.iter().map(Change::to_string).collect::<Vec<_>>(),
        vec!["backend spare: removed"]
    );
}

#[test]
fn appliance_and_metrics() {
    let (text, steps) = one(r#"name = "edge-1""#, r#"name = "edge-2""#);
    assert_eq!(text, "appliance: name edge-1 → edge-2");
    assert_eq!(steps, FWD);
    let (text, _) = one(
        "[[forward]]",
        "[metrics]\nlisten = \"127.0.0.1:9108\"\n\n[[forward]]",
    );
    assert_eq!(text, "metrics: listen none → 127.0.0.1:9108");
}

#[test]
fn a_change_of_ha_says_it_takes_a_restart() {
    let pair = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/config/valid/ha-pair.toml"
    ))
    .expect("fixture");
    let old = parse(&pair).expect("parses");
    let new = parse(
        &pair
            .replace("advert = \"1s\"", "advert = \"500ms\"")
            .replace("priority = 100", "priority = 150"),
    )
    .expect("parses");
    let c = diff(&old, &new);
    assert_eq!(c.len(), 1, "{c:?}");
    let text = c[0].to_string();
    assert!(text.starts_with("ha: advert, node changed;"), "{text}");
    assert!(text.contains("until both daemons restart"), "{text}");
    assert!(!c[0].needs_forwarder() && !c[0].needs_net());
    assert!(diff(&old, &old).is_empty());
    let mut alone = old.clone();
    alone.ha = None;
    assert_eq!(diff(&alone, &old)[0], Change::Ha { keys: vec!["[ha]"] });
}
