//! The `guard` chain (prerouting, priority -150) and the ban sets it reads.
//! Pure.
//!
//! Order, and why:
//! 1. loopback accepted;
//! 2. login bans (`login4/6`, set by the admin login guard): new
//!    connections to the admin port and SSH only, never the public sites;
//! 3. `admin.allow` to the admin port and SSH accepted here, before the
//!    block list, the bans and the limits: nothing those do (nor anything
//!    an attacker makes them do) can shut the operator out;
//! 4. `limits.block` and `limits.block_file` dropped (sets `block4_…`,
//!    `block6_…`, see [`super::block`]);
//! 5. bans (`ban4/6`, set by the meters or by hand) dropped; for sources
//!    in `admin.allow`, only their new connections, so a ban never cuts an
//!    operator's open session;
//! 6. the jumps into the meters of [`super::limits`].
//!
//! IPv6 sources are banned per `limits.ipv6_prefix` (a /64 by default):
//! the ban sets hold the prefix's first address and every lookup masks
//! the source the same way.

use nftables::expr::{Expression, MetaKey};
use nftables::schema::{Set, SetFlag};

use super::block::Block;
use super::expr::{
    accept, allowed, anon_set, ct, drop, eq, fib_daddr_type, is_in, meta, neq, payload, saddr,
    source_key, word,
};
use super::limits;
use super::ruleset::{set, Rule};
use crate::config::Config;

/// The ban sets: `ban4/6` (everything, or new connections for
/// `admin.allow`) and `login4/6` (the admin port and SSH only).
pub fn sets(cfg: &Config) -> Vec<Set<'static>> {
    let mut out = Vec::new();
    for v4 in [true, false] {
        let mut ban = set(if v4 { "ban4" } else { "ban6" }, v4, "limits.ban");
        ban.flags = Some([SetFlag::Timeout].into());
        ban.size = Some(cfg.limits.meter_size);
        let secs = cfg.limits.ban.as_secs();
        ban.timeout = (secs > 0).then(|| u32::try_from(secs).unwrap_or(u32::MAX));
        out.push(ban);
    }
    for v4 in [true, false] {
        let name = if v4 { "login4" } else { "login6" };
        let mut login = set(name, v4, "admin login ban: admin port and SSH only");
        login.flags = Some([SetFlag::Timeout].into());
        login.size = Some(cfg.limits.meter_size);
        out.push(login);
    }
    out
}

/// The whole `guard` chain; `blocks` are the block sets.
pub fn rules(cfg: &Config, blocks: &[Block]) -> Vec<Rule> {
    let mut out = vec![Rule::new(
        "guard",
        "loopback",
        vec![eq(meta(MetaKey::Iif), word("lo")), accept()],
    )];
    let prefix = cfg.limits.ipv6_prefix;
    let admin = || {
        anon_set(
            admin_ports(cfg)
                .into_iter()
                .map(|p| Expression::Number(u32::from(p)))
                .collect(),
        )
    };
    for v4 in [true, false] {
        out.push(Rule::new(
            "guard",
            "admin login ban: new connections to the admin port and SSH",
            vec![
                is_in(ct("state"), word("new")),
                eq(payload("tcp", "dport"), admin()),
                eq(
                    source_key(v4, prefix),
                    word(if v4 { "@login4" } else { "@login6" }),
                ),
                drop(),
            ],
        ));
    }
    for v4 in [true, false] {
        let allow = allowed(&cfg.admin.allow, v4);
        if allow.is_empty() {
            continue;
        }
        out.push(Rule::new(
            "guard",
            "admin allow: before block, bans and limits",
            vec![
                eq(saddr(v4), anon_set(allow)),
                eq(fib_daddr_type(), word("local")),
                eq(payload("tcp", "dport"), admin()),
                accept(),
            ],
        ));
    }
    for block in blocks {
        let v4 = block.name.starts_with(super::block::PREFIXES[0]);
        out.push(Rule::new(
            "guard",
            "limits.block",
            vec![eq(saddr(v4), word(format!("@{}", block.name))), drop()],
        ));
    }
    for v4 in [true, false] {
        out.extend(ban_rules(cfg, v4));
    }
    out.extend(limits::guard_jumps(cfg));
    out
}

/// Banned sources dropped; `admin.allow` keeps its established connections.
fn ban_rules(cfg: &Config, v4: bool) -> Vec<Rule> {
    let banned = || {
        eq(
            source_key(v4, cfg.limits.ipv6_prefix),
            word(if v4 { "@ban4" } else { "@ban6" }),
        )
    };
    let allow = allowed(&cfg.admin.allow, v4);
    if allow.is_empty() {
        return vec![Rule::new("guard", "limits.ban", vec![banned(), drop()])];
    }
    vec![
        Rule::new(
            "guard",
            "limits.ban",
            vec![banned(), neq(saddr(v4), anon_set(allow)), drop()],
        ),
        Rule::new(
            "guard",
            "limits.ban: admin.allow keeps its open connections",
            vec![banned(), is_in(ct("state"), word("new")), drop()],
        ),
    ]
}

/// The ports only `admin.allow` reaches: SSH, the admin port and the
/// metrics port (each unless it listens on loopback only), sorted.
pub fn admin_ports(cfg: &Config) -> Vec<u16> {
    let mut ports = vec![cfg.admin.ssh_port];
    if !cfg.admin.listen.ip().is_loopback() {
        ports.push(cfg.admin.listen.port());
    }
    if let Some(m) = cfg
        .metrics
        .as_ref()
        .filter(|m| !m.listen.ip().is_loopback())
    {
        ports.push(m.listen.port());
    }
    ports.sort_unstable();
    ports.dedup();
    ports
}
