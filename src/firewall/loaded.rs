//! What is loaded now: the chains and sets of `table inet parvis` (from
//! [`super::nft::list_objects`], no rules, no elements), and which sets an
//! apply may keep. Pure.
//!
//! An apply keeps a set, elements and all, when the loaded set has the
//! name and definition the new ruleset renders for it: the block sets
//! (named after their content, see [`super::block`]), so an apply that
//! does not change the block list does not reload tens of thousands of
//! prefixes; and the ban sets, so bans stay as they are. The meters are
//! always re-created (a meter keeps the limits of the rule that filled it).

use nftables::schema::Set;
use serde_json::Value;

use super::block;

/// The ban sets, kept when their definition is unchanged.
const BAN_SETS: [&str; 4] = ["ban4", "ban6", "login4", "login6"];

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
    /// The table holds something parvis does not render (a map, a
    /// flowtable, a named counter…): only a full replace clears it.
    pub foreign: bool,
}

impl Loaded {
    /// Sorts listed objects (`{"chain": {...}}`, `{"set": {...}}`…).
    pub fn from_objects(objects: &[Value]) -> Loaded {
        let mut out = Loaded::default();
        for o in objects {
            let Some((kind, body)) = o.as_object().and_then(|m| m.iter().next()) else {
                continue;
            };
            match kind.as_str() {
                "chain" => out.chains.push(name(body)),
                "set" => out.sets.push(body.clone()),
                "table" | "rule" | "metainfo" => {}
                _ => out.foreign = true,
            }
        }
        out
    }

    /// The names of the loaded sets.
    pub fn set_names(&self) -> impl Iterator<Item = String> + '_ {
        self.sets.iter().map(name)
    }

    /// The names of the rendered `sets` (a ruleset's) that can stay as
    /// loaded, elements and all.
    pub fn keepable<'a>(&self, sets: &'a [Set<'static>]) -> Vec<&'a str> {
        if self.foreign {
            return Vec::new();
        }
        sets.iter()
            .filter(|s| block::is_block_set(&s.name) || BAN_SETS.contains(&s.name.as_ref()))
            .filter(|s| {
                let want = definition(s);
                self.sets
                    .iter()
                    .find(|h| name(h) == s.name)
                    .is_some_and(|have| same_definition(&want, have))
            })
            .map(|s| s.name.as_ref())
            .collect()
    }
}

/// The compared keys of a rendered set, as nft lists them (built by hand:
/// serialising the whole set would serialise its elements too).
fn definition(s: &nftables::schema::Set<'_>) -> Value {
    let mut m = serde_json::Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v.filter(|v| !v.is_null()) {
            m.insert(k.to_string(), v);
        }
    };
    put("type", serde_json::to_value(&s.set_type).ok());
    put("flags", serde_json::to_value(&s.flags).ok());
    put("timeout", s.timeout.map(Value::from));
    put("size", s.size.map(Value::from));
    Value::Object(m)
}

fn name(o: &Value) -> String {
    o.get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Same type, flags (in any order), timeout and size.
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
        Some(Value::Array(a)) => a.iter().map(Value::to_string).collect(),
        Some(other) => vec![other.to_string()],
        None => Vec::new(),
    };
    out.sort();
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::firewall::ruleset::Ruleset;
    use serde_json::json;

    fn rendered() -> Ruleset {
        let cfg = crate::config::parse(
            "[limits]\nblock = [\"192.0.2.0/24\"]\n\n[[forward]]\nport = 2222\nto = \"10.0.0.20:22\"\n",
        )
        .unwrap();
        super::super::render(&cfg)
    }

    fn listed(rs: &Ruleset) -> Vec<Value> {
        let mut out = vec![json!({"chain": {"name": "guard"}})];
        for s in &rs.sets {
            let mut v = serde_json::to_value(s).unwrap();
            let m = v.as_object_mut().unwrap();
            m.remove("elem");
            m.remove("comment");
            m.insert("handle".into(), json!(7));
            out.push(json!({ "set": v }));
        }
        out
    }

    /// Sets listed as rendered are kept; a changed ban set, a changed
    /// block list (another name) and a table with foreign objects are not.
    #[test]
    fn only_unchanged_block_and_ban_sets_are_kept() {
        let rs = rendered();
        let mut objects = listed(&rs);
        let all = Loaded::from_objects(&objects).keepable(&rs.sets);
        assert_eq!(all.len(), 6, "{all:?}");
        assert!(all.iter().any(|n| n.starts_with("block4_")), "{all:?}");
        objects[3]["set"]["size"] = json!(16);
        objects[1]["set"]["name"] = json!("block4_0000000000000000");
        let some = Loaded::from_objects(&objects).keepable(&rs.sets);
        assert_eq!(some.len(), 4, "{some:?}");
        assert!(!some.iter().any(|n| n.starts_with("block4_")), "{some:?}");
        objects.push(json!({"map": {"name": "x"}}));
        assert!(Loaded::from_objects(&objects).keepable(&rs.sets).is_empty());
    }
}
