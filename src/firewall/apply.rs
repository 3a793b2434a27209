//! `apply` and `check`: one atomic nft transaction that replaces `table inet
//! parvis` (add, delete, re-create in one batch), then a read-back compared
//! with what was rendered. Bans survive: their elements are read before and
//! re-added, with the time they had left, in the same batch. I/O.

use std::time::{Duration, Instant};

use super::error::FirewallError;
use super::nft;
use super::render::render;
use super::ruleset::{Ruleset, TimedElement};
use super::runtime;
use crate::config::Config;

/// What an apply did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyReport {
    /// Rules loaded.
    pub rules: usize,
    /// Named sets loaded.
    pub sets: usize,
    /// Bans carried over from the previous table.
    pub bans_kept: usize,
    /// Time from the first nft call to the verified read-back.
    pub elapsed: Duration,
}

impl std::fmt::Display for ApplyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "table inet parvis applied: {} rules, {} sets, {} bans kept, {} ms",
            self.rules,
            self.sets,
            self.bans_kept,
            self.elapsed.as_millis()
        )
    }
}

/// Asks nft (`nft -c`) whether it would accept the ruleset of `cfg`,
/// without changing anything.
pub fn check(cfg: &Config) -> Result<(), FirewallError> {
    nft::load(
        "accept the ruleset (check)",
        &render(cfg).replace_json(&[]),
        true,
    )
}

/// Renders `cfg` and replaces `table inet parvis` with it atomically.
pub fn apply(cfg: &Config) -> Result<ApplyReport, FirewallError> {
    apply_ruleset(&render(cfg))
}

/// Replaces `table inet parvis` with `rs` in one transaction; on refusal
/// the previous table stays in force untouched.
pub fn apply_ruleset(rs: &Ruleset) -> Result<ApplyReport, FirewallError> {
    let start = Instant::now();
    let keep = kept_bans()?;
    nft::load("apply the ruleset", &rs.replace_json(&keep), false)?;
    verify(rs)?;
    Ok(ApplyReport {
        rules: rs.rules.len(),
        sets: rs.sets.len(),
        bans_kept: keep.len(),
        elapsed: start.elapsed(),
    })
}

/// The current bans as elements to re-add; none if there is no table yet.
fn kept_bans() -> Result<Vec<TimedElement>, FirewallError> {
    let bans = match runtime::bans() {
        Ok(b) => b,
        Err(FirewallError::NoTable) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(bans
        .into_iter()
        .map(|b| TimedElement {
            set: b.scope.set(b.addr),
            addr: b.addr,
            // A ban without a timeout is re-added for the longest time nft takes.
            timeout_s: b.expires_in.map_or(runtime::MAX_BAN_S, |d| {
                u32::try_from(d.as_secs().max(1)).unwrap_or(runtime::MAX_BAN_S)
            }),
        })
        .collect())
}

/// Reads the table back (without set contents) and compares chains, sets
/// and every rule's chain and comment, in order.
fn verify(rs: &Ruleset) -> Result<(), FirewallError> {
    let doc = nft::list_table_terse()?;
    let names = |kind: &'static str| -> Vec<String> {
        let mut v: Vec<String> = nft::objects(&doc, kind)
            .filter_map(|o| o.get("name").and_then(|n| n.as_str()).map(str::to_string))
            .collect();
        v.sort();
        v
    };
    let mut want_sets: Vec<String> = rs.sets.iter().map(|s| s.name.to_string()).collect();
    want_sets.sort();
    if names("set") != want_sets {
        return Err(mismatch(format!(
            "sets {:?}, expected {want_sets:?}",
            names("set")
        )));
    }
    let mut want_chains: Vec<String> = rs.chains.iter().map(|c| c.name.to_string()).collect();
    want_chains.sort();
    if names("chain") != want_chains {
        return Err(mismatch(format!(
            "chains {:?}, expected {want_chains:?}",
            names("chain")
        )));
    }
    let got: Vec<(String, String)> = nft::objects(&doc, "rule")
        .map(|r| (field(r, "chain"), field(r, "comment")))
        .collect();
    let mut want: Vec<(String, String)> = rs
        .comments()
        .into_iter()
        .map(|(c, m)| (c.to_string(), m.to_string()))
        .collect();
    // nft lists chains in creation order; compare per chain, order kept.
    let key = |v: &(String, String)| v.0.clone();
    let mut got_sorted = got.clone();
    got_sorted.sort_by_key(key);
    want.sort_by_key(key);
    if got_sorted.len() != want.len() {
        return Err(mismatch(format!(
            "{} rules read back, {} rendered",
            got.len(),
            want.len()
        )));
    }
    match got_sorted.iter().zip(&want).find(|(g, w)| g != w) {
        Some((g, w)) => Err(mismatch(format!("rule {g:?} where {w:?} was rendered"))),
        None => Ok(()),
    }
}

fn field(o: &serde_json::Value, k: &str) -> String {
    o.get(k)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string()
}

fn mismatch(detail: String) -> FirewallError {
    FirewallError::Mismatch { detail }
}
