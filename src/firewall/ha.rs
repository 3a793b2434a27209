//! `[ha]` in the firewall: the pair's own traffic — VRRP (IP protocol 112),
//! conntrackd (UDP), the drain tunnel (UDP, VXLAN) and the config sync (TCP
//! `ha.sync_port`) — accepted in
//! `input` only from the two node addresses, and the source address the
//! NAT uses towards the Kubernetes network (the internal VIP, which moves
//! with the master, so synced conntrack entries stay valid). Pure.
//!
//! Both nodes render the same table from the same file, so the rule names
//! both node addresses; a packet claiming this node's own address from the
//! wire is a martian the kernel drops before `input`, so in effect only the
//! peer gets through.

use nftables::expr::Expression;
use nftables::stmt::{NATFamily, Statement, NAT};

use super::expr::{accept, addr, anon_set, eq, payload, saddr};
use super::ruleset::Rule;
use crate::config::Config;
use crate::config::{CONNTRACKD_PORT, VRRP_PROTO};

/// `input` rules for the pair's traffic; none without `[ha]`.
pub fn rules(cfg: &Config) -> Vec<Rule> {
    let Some(ha) = &cfg.ha else {
        return Vec::new();
    };
    let nodes = || anon_set(ha.nodes.iter().map(|n| addr(n.address)).collect());
    let num = |n: u16| Expression::Number(u32::from(n));
    vec![
        Rule::new(
            "input",
            "ha: VRRP from the pair",
            vec![
                eq(saddr(true), nodes()),
                eq(
                    payload("ip", "protocol"),
                    Expression::Number(u32::from(VRRP_PROTO)),
                ),
                accept(),
            ],
        ),
        Rule::new(
            "input",
            "ha: conntrackd from the pair",
            vec![
                eq(saddr(true), nodes()),
                eq(payload("udp", "dport"), num(CONNTRACKD_PORT)),
                accept(),
            ],
        ),
        Rule::new(
            "input",
            "ha: drain tunnel from the pair",
            vec![
                eq(saddr(true), nodes()),
                eq(payload("udp", "dport"), num(crate::config::DRAIN_PORT)),
                accept(),
            ],
        ),
        Rule::new(
            "input",
            "ha: config sync from the pair",
            vec![
                eq(saddr(true), nodes()),
                eq(payload("tcp", "dport"), num(ha.sync_port)),
                accept(),
            ],
        ),
    ]
}

/// The source translation for flows leaving towards the internal network:
/// SNAT to the internal VIP with `[ha]` (IPv4), else masquerade.
pub fn internal_source(cfg: &Config, v4: bool) -> Statement<'static> {
    match &cfg.ha {
        Some(ha) if v4 => Statement::SNAT(Some(NAT {
            addr: Some(addr(ha.vip_internal.0.addr())),
            family: Some(NATFamily::IP),
            port: None,
            flags: None,
        })),
        _ => Statement::Masquerade(None),
    }
}

/// The source translation for egress towards the public network: SNAT to
/// the public VIP with `[ha]` (the floating IP maps to it), else masquerade.
pub fn public_source(cfg: &Config, v4: bool) -> Statement<'static> {
    match &cfg.ha {
        Some(ha) if v4 => Statement::SNAT(Some(NAT {
            addr: Some(addr(ha.vip_public.0.addr())),
            family: Some(NATFamily::IP),
            port: None,
            flags: None,
        })),
        _ => Statement::Masquerade(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> Config {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/config/valid/ha-pair.toml"
        ))
        .expect("fixture");
        crate::config::parse(&text).expect("valid")
    }

    #[test]
    fn pair_traffic_only_from_the_nodes() {
        let cfg = pair();
        let json = super::super::render(&cfg).to_json();
        for want in [
            "ha: VRRP from the pair",
            "ha: conntrackd from the pair",
            "ha: config sync from the pair",
            "ha: drain tunnel from the pair",
            "3781",
            "10.0.0.2",
            "10.0.0.3",
            "7443",
            "3780",
        ] {
            assert!(json.contains(want), "{want} missing");
        }
    }

    #[test]
    fn forwards_snat_to_the_internal_vip() {
        let cfg = pair();
        let s = serde_json::to_string(&internal_source(&cfg, true)).expect("json");
        assert!(s.contains("snat") && s.contains("10.0.0.1"), "{s}");
        let mut single = cfg.clone();
        single.ha = None;
        let s = serde_json::to_string(&internal_source(&single, true)).expect("json");
        assert!(s.contains("masquerade"), "{s}");
        assert!(rules(&single).is_empty());
    }
}
