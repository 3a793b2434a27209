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
        limits[0],
        "limits.conn_rate 50/second burst 100 -> limits.ban 10m"
    );
    assert_eq!(limits[1], "limits.conn_max 200");
    let json = rs.to_json();
    assert!(json.contains(r#"{"set":{"op":"update","elem":{"payload":{"protocol":"ip","field":"saddr"}},"set":"@rate4","stmt":[{"limit":{"rate":50,"per":"second","burst":100,"inv":true}}]}}"#), "{json}");
    assert!(json.contains(r#""set":"@conn4","stmt":[{"ct count":{"val":200,"inv":true}}]"#));
    assert!(json.contains(r#"udp","field":"dport"}},"right":{"range":[30000,30100]}"#));
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
