//! The kernel data path: [`render`] the nftables ruleset of `table inet
//! parvis` from a `Config` (pure), [`apply`] / [`check`] it in one atomic nft
//! transaction, read bans, blocks and counters back, and set the
//! [`sysctls`] forwarding needs (I/O: runs `nft`, writes `/proc/sys`).
//!
//! Every rule carries a counter and a comment naming the config item it came
//! from, so `nft list table inet parvis` reads like the config. The chain
//! layout and the reasons behind it are in [`render`] and `nft/README.md`.
//!
//! What an apply keeps and loses. When this process applied the table
//! last and the kernel still holds exactly that, only the rules and sets
//! that changed are deleted and added (`firewall/diff.rs`); otherwise every rule,
//! chain and set is re-created in one transaction, except the sets that
//! would be re-created identically (see [`apply`]). A new block list is
//! loaded over nfnetlink into a set no rule uses yet, before that
//! transaction (`firewall/prepare.rs`).
//! - kept: established connections and their NAT (they live in conntrack,
//!   not in the table, with their `ct mark`: metered or refused); bans and
//!   login bans (their sets stay as loaded, or when their definition
//!   changes, they are re-added with the time they had left); the block
//!   sets when the block list is unchanged; the per-source meters when
//!   only the difference is sent;
//! - lost when everything is re-created: the per-source meters (`rate4/6`,
//!   `conn4/6`, `urate4/6`, `uconn4/6`): after such an apply every
//!   source starts with a full burst, and `conn_max` counts only connections
//!   opened since the apply. A change of a rule that fills a meter (its
//!   limits) always re-creates everything. A ban is not extended by the banned source's
//!   retries (they are dropped before the meter), so it ends `ban` after the
//!   source went over the rate.

mod apply;
mod block;
pub mod diag;
mod diff;
mod dump;
mod error;
mod expr;
mod guard;
mod ha;
mod limits;
mod loaded;
mod meter;
mod nat;
mod nfnl;
mod nft;
mod prepare;
mod render;
mod ruleset;
mod runtime;
mod sysctl;

pub use apply::{apply, apply_ruleset, check, ApplyReport};
pub use error::FirewallError;
pub use render::render;
pub use ruleset::{DynSet, Rule, Ruleset, Stmt, TimedElement, FAMILY, TABLE};
pub use runtime::{
    ban_add, ban_del, ban_key, bans, blocked, counters, ruleset_text, set_fill, Ban, BanScope,
    RuleCounter, SetFill, MAX_BAN_S,
};
pub use sysctl::sysctls;

#[cfg(test)]
mod tests;
