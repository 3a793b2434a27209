//! `[ha]` in the firewall: the config sync (TCP `ha.sync_port`) accepted in
//! `input` only from the two node addresses. Pure.
//!
//! (hacore's branch carries the full version of this file, with VRRP and
//! conntrackd too; on merge, take that one.)
//!
//! Both nodes render the same table from the same file, so the rule names
//! both node addresses; a packet claiming this node's own address from the
//! wire is a martian the kernel drops before `input`, so in effect only the
//! peer gets through.

use nftables::expr::Expression;

use super::expr::{accept, addr, anon_set, eq, payload, saddr};
use super::ruleset::Rule;
use crate::config::Config;

/// `input` rules for the pair's traffic; none without `[ha]`.
pub fn rules(cfg: &Config) -> Vec<Rule> {
    let Some(ha) = &cfg.ha else {
        return Vec::new();
    };
    let nodes = || anon_set(ha.nodes.iter().map(|n| addr(n.address)).collect());
    let num = |n: u16| Expression::Number(u32::from(n));
    vec![Rule::new(
        "input",
        "ha: config sync from the pair",
        vec![
            eq(saddr(true), nodes()),
            eq(payload("tcp", "dport"), num(ha.sync_port)),
            accept(),
        ],
    )]
}
