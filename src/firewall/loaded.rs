//! What is loaded now: the chains and sets of `table inet parvis` read from
//! a terse listing, and which sets an apply may keep. Pure.
//!
//! An apply keeps a set, elements and all, when the loaded set has exactly
//! the definition the new ruleset renders for it: the block sets (when the
//! comment of the rule that reads them, which carries a digest of their
//! elements, is unchanged too, see [`super::block`]), so an
//! apply that does not change the block list does not reload tens of
//! thousands of prefixes; and the ban sets, so bans stay as they are. The
//! meters are always re-created (a meter keeps the limits of the rule that
//! filled it).

use serde_json::Value;

use super::block;
use super::ruleset::Ruleset;

/// Sets an apply may keep when their definition is unchanged.
const KEEPABLE: [&str; 6] = [
    block::SETS[0],
    block::SETS[1],
    "ban4",
    "ban6",
    "login4",
    "login6",
];

/// The definition keys compared (the listing adds `handle`, `family`…;
/// nft 1.0.6 drops set comments given in JSON, so they are not compared).
const DEFINITION: [&str; 4] = ["type", "flags", "timeout", "size"];

/// The loaded table, as far as an apply needs it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Loaded {
    /// Chain names, in listing order.
    pub chains: Vec<String>,
    /// Set objects as listed (no elements).
    pub sets: Vec<Value>,
    /// The comments of the loaded block rules (`limits.block: block4 …`).
    pub block_rules: Vec<String>,
    /// The table holds something parvis does not render (a map, a
    /// flowtable, a named counter…): only a full replace clears it.
    pub foreign: bool,
}

impl Loaded {
    /// Reads a terse listing (`{"nftables": [...]}` of this table only).
    pub fn from_listing(doc: &Value) -> Loaded {
        let mut out = Loaded::default();
        for o in doc
            .get("nftables")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some((kind, body)) = o.as_object().and_then(|m| m.iter().next()) else {
                continue;
            };
            match kind.as_str() {
                "chain" => out.chains.push(name(body)),
                "set" => out.sets.push(body.clone()),
                "rule" => {
                    let c = body.get("comment").and_then(Value::as_str).unwrap_or("");
                    if c.starts_with(block::RULE_COMMENT) {
                        out.block_rules.push(c.to_string());
                    }
                }
                "table" | "metainfo" => {}
                _ => out.foreign = true,
            }
        }
        out
    }

    /// The names of the loaded sets.
    pub fn set_names(&self) -> impl Iterator<Item = String> + '_ {
        self.sets.iter().map(name)
    }

    /// The sets of `rs` that can stay as loaded, elements and all.
    pub fn keepable(&self, rs: &Ruleset) -> Vec<&'static str> {
        if self.foreign {
            return Vec::new();
        }
        rs.sets
            .iter()
            .filter(|s| KEEPABLE.contains(&s.name.as_ref()))
            .filter_map(|s| {
                let want = serde_json::to_value(s).ok()?;
                let have = self.sets.iter().find(|h| name(h) == s.name)?;
                let elements_known =
                    !block::SETS.contains(&s.name.as_ref()) || self.same_block_rule(rs, &s.name);
                (elements_known && same_definition(&want, have)).then(|| {
                    KEEPABLE
                        .into_iter()
                        .find(|k| *k == s.name.as_ref())
                        .unwrap_or_default()
                })
            })
            .collect()
    }
}

impl Loaded {
    /// Whether the block rule of set `set` has the same comment (so the
    /// same element digest) loaded as rendered.
    fn same_block_rule(&self, rs: &Ruleset, set: &str) -> bool {
        let prefix = format!("{} {set} ", block::RULE_COMMENT);
        rs.rules
            .iter()
            .find(|r| r.chain == "guard" && r.comment.starts_with(&prefix))
            .is_some_and(|r| self.block_rules.contains(&r.comment))
    }
}

fn name(o: &Value) -> String {
    o.get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Same type, flags (in any order), timeout, size and comment.
fn same_definition(want: &Value, have: &Value) -> bool {
    DEFINITION.iter().all(|k| {
        let (a, b) = (want.get(*k), have.get(*k));
        if *k == "flags" {
            return sorted(a) == sorted(b);
        }
        a == b
    })
}

fn sorted(v: Option<&Value>) -> Vec<String> {
    let mut out: Vec<String> = match v {
        Some(Value::Array(a)) => a.iter().map(|f| f.to_string()).collect(),
        Some(Value::String(s)) => vec![Value::String(s.clone()).to_string()],
        _ => Vec::new(),
    };
    out.sort();
    out
}
