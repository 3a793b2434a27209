//! The preparation before an apply's transaction: the block sets the new
//! ruleset names that are not loaded yet are created with all their
//! elements over nfnetlink ([`super::nfnl::create_sets`], one transaction
//! of its own), so the transaction that switches the rules to them keeps
//! them like any unchanged set. I/O.
//!
//! This cannot change what the firewall does: no rule references a new set
//! until the apply's one transaction switches the rules to it, and a set is
//! created with all its elements or not at all. Why: nft 1.0.6 spends about
//! three quarters of its CPU on a 50,000-prefix list in its own user-space
//! interval handling, which the kernel does not need (see
//! `docs/benchmarks.md`).

use super::block;
use super::error::FirewallError;
use super::loaded::Loaded;
use super::nfnl::{self, NewSet};
use super::nft;
use super::ruleset::Ruleset;

/// What the preparation created, to be removed if the transaction fails.
#[derive(Debug, Default)]
pub struct Prepared {
    /// The sets created.
    pub sets: Vec<String>,
    /// The table was created with them (there was none).
    pub table: bool,
}

/// Creates, with their elements, the non-empty block sets of `rs` that
/// are not in `loaded`. Nothing when the table holds objects parvis does
/// not render (that apply replaces the whole table, sets and all).
pub fn block_sets(rs: &Ruleset, loaded: Option<&Loaded>) -> Result<Prepared, FirewallError> {
    if loaded.is_some_and(|l| l.foreign) {
        return Ok(Prepared::default());
    }
    let have: Vec<String> = loaded.map(|l| l.set_names().collect()).unwrap_or_default();
    let new: Vec<NewSet<'_>> = rs
        .sets
        .iter()
        .filter(|s| !have.iter().any(|h| *h == s.name))
        .filter_map(|s| {
            let elems = block::set_elems(s).filter(|e| !e.is_empty())?;
            Some(NewSet {
                name: &s.name,
                v4: s.name.starts_with(block::PREFIXES[0]),
                elems,
            })
        })
        .collect();
    if new.is_empty() {
        return Ok(Prepared::default());
    }
    nfnl::create_sets(loaded.is_none(), &new)?;
    Ok(Prepared {
        sets: new.iter().map(|s| s.name.to_string()).collect(),
        table: loaded.is_none(),
    })
}

impl Prepared {
    /// Whether anything was created.
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// Removes what was created (after the transaction was refused): the
    /// table if it was created, else the new sets, in one transaction. A
    /// failure is logged: the sets are not referenced, and a set left
    /// behind holds exactly the list its name stands for.
    pub fn undo(&self) {
        if self.is_empty() {
            return;
        }
        let cmds: Vec<serde_json::Value> = if self.table {
            vec![serde_json::json!({"delete": {"table": {"family": "inet", "name": super::TABLE}}})]
        } else {
            self.sets
                .iter()
                .map(|n| {
                    serde_json::json!({"delete": {"set": {"family": "inet", "table": super::TABLE, "name": n}}})
                })
                .collect()
        };
        let json = serde_json::json!({ "nftables": cmds }).to_string();
        if let Err(e) = nft::load("remove the prepared block sets", &json, false) {
            tracing::warn!(error = %e, sets = ?self.sets, "could not remove the unused block sets");
        }
    }
}
