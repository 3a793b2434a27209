//! `apply` and `check`: one atomic nft transaction that brings `table inet
//! parvis` to the rendered ruleset, then a read-back compared with what was
//! rendered. I/O.
//!
//! The transaction depends on what is loaded (read first, without set
//! contents): with no table, the table is created; otherwise every rule is
//! flushed and every chain and set deleted and re-created, except the sets
//! whose definition is unchanged among the block and ban sets (see
//! [`super::loaded`]), which stay with their elements. So an apply that
//! leaves the block list alone does not reload it (1,000 forwards with a
//! 50,000-prefix list: tens of milliseconds instead of half a second). Bans
//! of a ban set that is re-created are read first and re-added, with the
//! time they had left, in the same transaction. A new block list is loaded
//! before that transaction, into a set no rule uses yet (see
//! [`super::prepare`]); a refused transaction removes it again.

use std::time::{Duration, Instant};

use super::diff;
use super::dump;
use super::error::FirewallError;
use super::loaded::Loaded;
use super::nft;
use super::prepare;
use super::render::render;
use super::ruleset::{Ruleset, TimedElement};
use super::runtime;
use crate::config::Config;

/// What an apply did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyReport {
    /// Rules loaded.
    pub rules: usize,
    /// Named sets in the table.
    pub sets: usize,
    /// Sets kept as they were loaded, elements and all.
    pub sets_kept: usize,
    /// Bans carried over from re-created ban sets.
    pub bans_kept: usize,
    /// Rules deleted and added when only the difference was sent; `None`
    /// when every rule was re-created.
    pub rules_changed: Option<usize>,
    /// Time from the first nft call to the verified read-back.
    pub elapsed: Duration,
}

impl std::fmt::Display for ApplyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "table inet parvis applied: {} rules, {} sets ({} kept as loaded), {} bans re-added, {} ms",
            self.rules,
            self.sets,
            self.sets_kept,
            self.bans_kept,
            self.elapsed.as_millis()
        )?;
        match self.rules_changed {
            Some(n) => write!(f, " ({n} rules changed, the rest kept)"),
            None => Ok(()),
        }
    }
}

/// Asks nft (`nft -c`) whether it would accept the transaction an apply
/// of `cfg` would send now (only the difference when the apply would send
/// one; a new block list inline), without changing anything.
pub fn check(cfg: &Config) -> Result<(), FirewallError> {
    let rs = render(cfg);
    let loaded = read_loaded()?;
    let batch = match difference(&rs, loaded.as_ref())? {
        Some(b) => b,
        None => Batch::new(&rs, loaded.as_ref(), false)?,
    };
    nft::load("accept the ruleset (check)", &batch.json, true)
}

/// Renders `cfg` and brings `table inet parvis` to it atomically.
pub fn apply(cfg: &Config) -> Result<ApplyReport, FirewallError> {
    apply_ruleset(&render(cfg))
}

/// Brings `table inet parvis` to `rs` in one transaction; on refusal the
/// previous table stays in force untouched.
pub fn apply_ruleset(rs: &Ruleset) -> Result<ApplyReport, FirewallError> {
    let start = Instant::now();
    let mut loaded = read_loaded()?;
    let prepared = prepare::block_sets(rs, loaded.as_ref())?;
    if !prepared.is_empty() {
        loaded = read_loaded()?;
    }
    let sent = send(rs, loaded.as_ref()).inspect_err(|_| {
        prepared.undo();
        diff::forget();
    })?;
    verify(rs)?;
    diff::remember(rs, &dump::rules()?)?;
    Ok(ApplyReport {
        rules: rs.rules.len(),
        sets: rs.sets.len(),
        sets_kept: sent.kept,
        bans_kept: sent.bans,
        rules_changed: sent.changed,
        elapsed: start.elapsed(),
    })
}

/// Sends the transaction: the difference from what this process applied
/// last when it can (see [`diff`]), else the re-creation of everything.
fn send(rs: &Ruleset, loaded: Option<&Loaded>) -> Result<Batch, FirewallError> {
    if let Some(b) = difference(rs, loaded)? {
        if nft::load("apply the ruleset", &b.json, false).is_ok() {
            return Ok(b);
        }
        // nft's own message comes from the full transaction below.
        diff::forget();
    }
    let b = Batch::new(rs, loaded, true)?;
    nft::load("apply the ruleset", &b.json, false)?;
    Ok(b)
}

/// The transaction of changed rules and sets only, when what this process
/// applied last is what the kernel still holds.
fn difference(rs: &Ruleset, loaded: Option<&Loaded>) -> Result<Option<Batch>, FirewallError> {
    let Some(loaded) = loaded.filter(|l| !l.foreign) else {
        return Ok(None);
    };
    let Some(old) = diff::recall(dump::rules)? else {
        return Ok(None);
    };
    let names: Vec<String> = loaded.set_names().collect();
    Ok(diff::plan(&old, rs, &names).map(|(json, changed)| Batch {
        json,
        kept: rs
            .sets
            .iter()
            .filter(|s| names.iter().any(|n| *n == s.name))
            .count(),
        bans: 0,
        changed: Some(changed),
    }))
}

/// The loaded table, or `None` when there is none.
fn read_loaded() -> Result<Option<Loaded>, FirewallError> {
    match nft::list_objects() {
        Ok(objects) => Ok(Some(Loaded::from_objects(&objects))),
        Err(FirewallError::NoTable) => Ok(None),
        Err(e) => Err(e),
    }
}

/// One transaction and what it keeps.
struct Batch {
    json: String,
    kept: usize,
    bans: usize,
    /// Rules deleted and added, for a difference; `None` for a re-creation.
    changed: Option<usize>,
}

impl Batch {
    /// The batch that brings the table from `loaded` to `rs`; with
    /// `with_bans`, the bans of re-created ban sets are read and re-added.
    fn new(rs: &Ruleset, loaded: Option<&Loaded>, with_bans: bool) -> Result<Batch, FirewallError> {
        let Some(loaded) = loaded else {
            return Ok(Batch {
                json: rs.to_json(),
                kept: 0,
                bans: 0,
                changed: None,
            });
        };
        let keep = loaded.keepable(&rs.sets);
        let bans = if with_bans {
            bans_to_carry(&keep)?
        } else {
            Vec::new()
        };
        let json = if loaded.foreign {
            rs.replace_json(&bans)
        } else {
            {
                let sets: Vec<String> = loaded.set_names().collect();
                rs.update_json((&loaded.chains, &sets), &keep, &bans)
            }
        };
        Ok(Batch {
            json,
            kept: keep.len(),
            bans: bans.len(),
            changed: None,
        })
    }
}

/// The bans of the ban sets that are not kept, as elements to re-add.
fn bans_to_carry(keep: &[&str]) -> Result<Vec<TimedElement>, FirewallError> {
    let all = ["ban4", "ban6", "login4", "login6"];
    if all.iter().all(|s| keep.contains(s)) {
        return Ok(Vec::new());
    }
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
        .filter(|e| !keep.contains(&e.set))
        .collect())
}

/// Reads the table back (chains and sets, without rules or elements)
/// and compares it with what was rendered: every chain and set by name,
/// nothing else. The rules are not read back: listing 2,500 rules costs
/// nft 0.2 s of CPU, and nft's exit status already says the kernel
/// acknowledged every message of the batch.
fn verify(rs: &Ruleset) -> Result<(), FirewallError> {
    let loaded = Loaded::from_objects(&nft::list_objects()?);
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let have = sorted(loaded.set_names().collect());
    let want = sorted(rs.sets.iter().map(|s| s.name.to_string()).collect());
    if have != want {
        return Err(mismatch(format!("sets {have:?}, expected {want:?}")));
    }
    let have = sorted(loaded.chains.clone());
    let want = sorted(rs.chains.iter().map(|c| c.name.to_string()).collect());
    if have != want {
        return Err(mismatch(format!("chains {have:?}, expected {want:?}")));
    }
    if loaded.foreign {
        return Err(mismatch("objects parvis did not render".into()));
    }
    Ok(())
}

fn mismatch(detail: String) -> FirewallError {
    FirewallError::Mismatch { detail }
}
