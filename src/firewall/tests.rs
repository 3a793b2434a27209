//! Unit tests of the pure half: rendering and serialisation, no nft needed.

use super::ruleset::Stmt;
use super::*;
use crate::config::parse;

const SAMPLE: &str = r#"
[admin]
allow = ["198.51.100.0/24"]
[limits]
conn_rate = "50/second"
conn_burst = 100
conn_max = 200
ban = "10m"
block = ["192.0.2.66", "203.0.113.0/28", "203.0.113.0/24"]
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
proto = "udp"
port = "30000-30100"
to = "10.0.0.20"
allow = ["198.51.100.0/24"]
"#;

fn sample() -> Ruleset {
    render(&parse(SAMPLE).expect("sample config"))
}

fn comments(rs: &Ruleset, chain: &str) -> Vec<String> {
    rs.rules
        .iter()
        .filter(|r| r.chain == chain)
        .map(|r| r.comment.clone())
        .collect()
}

#[test]
fn every_rule_counts_and_names_its_config_item() {
    let rs = sample();
    for r in &rs.rules {
        assert!(!r.comment.is_empty() && r.comment.len() <= 128, "{r:?}");
        let counted = r
            .expr
            .iter()
            .any(|s| matches!(s, Stmt::Nft(nftables::stmt::Statement::Counter(_))));
        assert!(counted, "rule without counter: {}", r.comment);
    }
}

#[test]
fn forwards_become_dnat_forward_accept_and_masquerade() {
    let rs = sample();
    let f0 = "forward[0] tcp 2222 -> 10.0.0.20:22 masquerade";
    let f1 = "forward[1] udp 30000-30100 -> 10.0.0.20";
    assert_eq!(comments(&rs, "prerouting"), vec![f0, f1]);
    assert!(comments(&rs, "forward").contains(&f0.to_string()));
    assert!(comments(&rs, "forward").contains(&f1.to_string()));
    assert_eq!(
        comments(&rs, "postrouting"),
        vec![f0],
        "only masquerade = true is masqueraded"
    );
}

#[test]
fn input_has_admin_and_listener_and_no_forward_port() {
    let rs = sample();
    let input = comments(&rs, "input");
    assert!(input.contains(&"admin allow".to_string()));
    assert!(input.contains(&"listener https".to_string()));
    assert!(!input.iter().any(|c| c.starts_with("forward")));
    let json = rs.to_json();
    assert!(json.contains("\"policy\":\"drop\""));
}

#[test]
fn empty_admin_allow_opens_nothing() {
    let text = SAMPLE.replace(
        "allow = [\"198.51.100.0/24\"]\n[limits]",
        "allow = []\n[limits]",
    );
    let rs = render(&parse(&text).expect("config"));
    assert!(!comments(&rs, "input").contains(&"admin allow".to_string()));
}

#[test]
fn overlapping_block_prefixes_are_merged() {
    let json = sample().to_json();
    assert!(
        json.contains(r#""elem":["192.0.2.66",{"prefix":{"addr":"203.0.113.0","len":24}}]"#),
        "{json}"
    );
}

#[test]
fn limits_meter_rate_ban_and_count() {
    let rs = sample();
    let limits = comments(&rs, "limits");
    assert_eq!(
        limits[..2],
        [
            "limits.conn_rate 50/second burst 100 -> limits.ban",
            "limits.conn_rate: meter rate4 full, new source refused",
        ]
    );
    assert_eq!(
        comments(&rs, "limits_conn")[..2],
        [
            "limits.conn_max 200",
            "limits.conn_max: meter conn4 full, new source refused",
        ]
    );
    for chain in ["input", "forward"] {
        assert_eq!(
            comments(&rs, chain)[0],
            "limits: connection refused by a meter"
        );
    }
    assert_eq!(comments(&rs, "limits_ban")[0], "limits.ban 10m");
    let json = rs.to_json();
    assert!(json.contains(r#"{"set":{"op":"update","elem":{"payload":{"protocol":"ip","field":"saddr"}},"set":"@rate4","stmt":[{"limit":{"rate":50,"per":"second","burst":100,"inv":true}}]}}"#), "{json}");
    assert!(json.contains(r#""set":"@conn4","stmt":[{"ct count":{"val":200,"inv":true}}]"#));
    assert!(json.contains(r#"udp","field":"dport"}},"right":{"range":[30000,30100]}"#));
}

#[test]
fn tcp_is_metered_after_the_handshake_and_udp_is_never_banned() {
    let rs = sample();
    let tcp = rs
        .rules
        .iter()
        .find(|r| r.comment.starts_with("limits: tcp"))
        .expect("tcp jump");
    let json = serde_json::to_string(&tcp.expr).expect("json");
    assert!(json.contains(r#""right":"assured""#), "{json}");
    assert!(json.contains(r#""right":"original""#), "{json}");
    assert!(
        json.contains(r#"{"mangle":{"key":{"ct":{"key":"mark"}}"#),
        "{json}"
    );
    assert!(
        !json.contains(r#""right":"new""#),
        "SYNs are not metered: {json}"
    );
    let udp = comments(&rs, "limits_udp");
    assert!(
        !udp.is_empty() && udp.iter().all(|c| !c.contains("ban")),
        "{udp:?}"
    );
}

#[test]
fn admin_allow_comes_before_block_bans_and_limits_and_login_bans_before_it() {
    let guard = comments(&sample(), "guard");
    let at = |c: &str| guard.iter().position(|g| g.starts_with(c)).expect(c);
    assert!(at("admin login ban") < at("admin allow"), "{guard:?}");
    assert!(at("admin allow") < at("limits.block"), "{guard:?}");
    assert!(at("admin allow") < at("limits.ban"), "{guard:?}");
    assert!(at("admin allow") < at("limits: tcp"), "{guard:?}");
    let login = sample()
        .rules
        .into_iter()
        .find(|r| r.comment.starts_with("admin login ban"))
        .expect("login ban rule");
    let json = serde_json::to_string(&login.expr).expect("json");
    assert!(
        json.contains(r#"{"set":[22,8443]}"#),
        "admin and SSH only: {json}"
    );
}

#[test]
fn ipv6_is_metered_and_banned_per_prefix() {
    let json = sample().to_json();
    let key = r#"{"&":[{"payload":{"protocol":"ip6","field":"saddr"}},"ffff:ffff:ffff:ffff::"]}"#;
    assert!(
        json.contains(&format!(r#""elem":{key},"set":"@rate6""#)),
        "{json}"
    );
    assert!(
        json.contains(&format!(r#""left":{key},"right":"@ban6""#)),
        "{json}"
    );
    let a: std::net::IpAddr = "2001:db8:1:2:3:4:5:6".parse().expect("ip");
    assert_eq!(ban_key(a, 64).to_string(), "2001:db8:1:2::");
    assert_eq!(ban_key(a, 48).to_string(), "2001:db8:1::");
    assert_eq!(ban_key(a, 128), a);
    let v4: std::net::IpAddr = "198.51.100.7".parse().expect("ip");
    assert_eq!(ban_key(v4, 64), v4);
    let text = SAMPLE.replace(
        "ban = \"10m\"",
        "ban = \"10m\"\nipv6_prefix = 128\nmeter_size = 32",
    );
    let rs = render(&parse(&text).expect("config"));
    let json = rs.to_json();
    assert!(!json.contains("ffff:ffff"), "a /128 is the plain address");
    assert!(rs
        .sets
        .iter()
        .filter(|s| s.size.is_some())
        .all(|s| s.size == Some(32)));
}

#[test]
fn replace_batch_adds_deletes_and_recreates_then_keeps_bans() {
    let keep = [TimedElement {
        set: "ban4",
        addr: "198.51.100.7".parse().expect("ip"),
        timeout_s: 42,
    }];
    let json = sample().replace_json(&keep);
    let doc: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    let cmds = doc["nftables"].as_array().expect("array");
    let table = serde_json::json!({"table": {"family": "inet", "name": "parvis"}});
    assert_eq!(cmds[0], serde_json::json!({"add": table}));
    assert_eq!(cmds[1], serde_json::json!({"delete": table}));
    assert_eq!(cmds[2], serde_json::json!({"add": table}));
    let last = cmds.last().expect("last");
    assert_eq!(
        last["add"]["element"]["elem"][0]["elem"],
        serde_json::json!({"val": "198.51.100.7", "timeout": 42})
    );
    assert!(!json.contains("flush"), "never a flush");
}

#[test]
fn long_names_are_clipped_to_what_nft_accepts() {
    let r = Rule::new(
        "input",
        "x".repeat(300),
        vec![nftables::stmt::Statement::Accept(None)],
    );
    assert_eq!(r.comment.len(), 128);
    assert!(r.comment.ends_with("..."));
}
