//! `Ruleset`: the typed value `render` produces — sets, chains and rules of
//! `table inet parvis` — and its serialisation into one nft JSON batch. Pure.
//!
//! Everything is an `nftables` crate type except the set statements that
//! carry a stateful statement (`update @rate4 { ip saddr limit rate over … }`,
//! `add @conn4 { ip saddr ct count over … }`): nftables 0.6 has no `stmt`
//! field on its set statement, so [`DynSet`] adds exactly that.

use std::borrow::Cow;
use std::net::IpAddr;

use nftables::expr::Expression;
use nftables::schema::{Chain, Set, SetType, SetTypeValue, Table};
use nftables::stmt::{SetOp, Statement};
use nftables::types::NfFamily;
use serde::Serialize;

/// The one table parvis owns (CONTRACT.md): `table inet parvis`.
pub const TABLE: &str = "parvis";
/// Its family.
pub const FAMILY: NfFamily = NfFamily::INet;
/// nft rejects comments longer than this many bytes.
const COMMENT_MAX: usize = 128;

/// One statement of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Stmt {
    /// A statement the `nftables` crate models.
    Nft(Statement<'static>),
    /// A set statement with embedded stateful statements.
    Dynset {
        /// Serialised as `{"set": {…}}`.
        set: DynSet,
    },
}

/// `add|update @set { elem stmt… }`: a per-element limit or connection count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DynSet {
    /// `add` or `update`.
    pub op: SetOp,
    /// The key, e.g. `ip saddr`.
    pub elem: Expression<'static>,
    /// `@name`.
    pub set: String,
    /// Per-element statements (`limit`, `ct count`); may be empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stmt: Vec<Statement<'static>>,
}

/// One rule: its chain, the config item it came from, its statements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The chain it sits in.
    pub chain: &'static str,
    /// The config item it came from (`listener https`, `forward[0] …`).
    pub comment: String,
    /// Matches, a counter, then the verdict.
    pub expr: Vec<Stmt>,
}

impl Rule {
    /// A rule of plain statements; a counter goes before the last one (the verdict).
    pub fn new(
        chain: &'static str,
        comment: impl Into<String>,
        mut stmts: Vec<Statement<'static>>,
    ) -> Rule {
        let verdict = stmts.pop();
        stmts.push(super::expr::counter());
        stmts.extend(verdict);
        Rule {
            chain,
            comment: clip(comment.into()),
            expr: stmts.into_iter().map(Stmt::Nft).collect(),
        }
    }
}

/// Cuts a comment to what nft accepts, on a character boundary.
fn clip(mut s: String) -> String {
    if s.len() > COMMENT_MAX {
        let mut end = COMMENT_MAX - 3;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("...");
    }
    s
}

/// The whole rendered table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ruleset {
    /// Named sets, static and dynamic.
    pub sets: Vec<Set<'static>>,
    /// Base and regular chains.
    pub chains: Vec<Chain<'static>>,
    /// Rules in evaluation order per chain.
    pub rules: Vec<Rule>,
}

/// A set element with its own timeout, for re-adding bans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedElement {
    /// The set, e.g. `ban4`.
    pub set: &'static str,
    /// The address.
    pub addr: IpAddr,
    /// Seconds left.
    pub timeout_s: u32,
}

#[derive(Serialize)]
struct Doc<'a> {
    nftables: Vec<Cmd<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "lowercase")]
enum Cmd<'a> {
    Add(Obj<'a>),
    Delete(Obj<'a>),
    Flush(Obj<'a>),
}

#[derive(Serialize)]
#[serde(rename_all = "lowercase")]
enum Obj<'a> {
    Table(Table<'static>),
    Set(&'a Set<'static>),
    Chain(&'a Chain<'static>),
    Rule(RuleObj<'a>),
    Element(ElementObj),
    /// A chain by name only (to delete it).
    #[serde(rename = "chain")]
    ChainName(NameRef),
    /// A set by name only (to delete it).
    #[serde(rename = "set")]
    SetName(NameRef),
}

#[derive(Serialize)]
struct NameRef {
    family: NfFamily,
    table: &'static str,
    name: String,
}

impl NameRef {
    fn new(name: &str) -> NameRef {
        NameRef {
            family: FAMILY,
            table: TABLE,
            name: name.to_string(),
        }
    }
}

#[derive(Serialize)]
struct RuleObj<'a> {
    family: NfFamily,
    table: &'static str,
    chain: &'static str,
    expr: &'a [Stmt],
    comment: &'a str,
}

#[derive(Serialize)]
struct ElementObj {
    family: NfFamily,
    table: &'static str,
    name: &'static str,
    elem: Vec<ElemWrap>,
}

#[derive(Serialize)]
struct ElemWrap {
    elem: ElemBody,
}

#[derive(Serialize)]
struct ElemBody {
    val: String,
    timeout: u32,
}

/// A named set of table `inet parvis`.
pub fn set(name: &'static str, v4: bool, comment: &'static str) -> Set<'static> {
    let ty = if v4 {
        SetType::Ipv4Addr
    } else {
        SetType::Ipv6Addr
    };
    Set {
        family: FAMILY,
        table: Cow::Borrowed(TABLE),
        name: Cow::Borrowed(name),
        set_type: SetTypeValue::Single(ty),
        comment: Some(Cow::Borrowed(comment)),
        ..Set::default()
    }
}

/// The `table inet parvis` object.
pub fn table() -> Table<'static> {
    Table {
        family: FAMILY,
        name: Cow::Borrowed(TABLE),
        handle: None,
    }
}

impl Ruleset {
    /// nft JSON that creates the table from nothing (`nft -j -f -` in an empty namespace).
    pub fn to_json(&self) -> String {
        self.serialise(vec![Cmd::Add(Obj::Table(table()))], &[], &[])
    }

    /// The atomic replace batch: add, delete and re-create the table, then
    /// re-add `bans` (bans that would otherwise be lost with the old table).
    pub fn replace_json(&self, bans: &[TimedElement]) -> String {
        let head = vec![
            Cmd::Add(Obj::Table(table())),
            Cmd::Delete(Obj::Table(table())),
            Cmd::Add(Obj::Table(table())),
        ];
        self.serialise(head, &[], bans)
    }

    /// The atomic update batch for a table holding `loaded` now (its
    /// chains and its sets' names): flush every
    /// rule, delete every chain and every set but those in `keep` (which
    /// stay with their elements), create the rest, then re-add `bans`
    /// (those of ban sets that are not kept). One transaction, like
    /// [`Ruleset::replace_json`], but the kept sets are not reloaded.
    pub fn update_json(
        &self,
        loaded: (&[String], &[String]),
        keep: &[&str],
        bans: &[TimedElement],
    ) -> String {
        let (chains, sets) = loaded;
        let mut head = vec![
            Cmd::Add(Obj::Table(table())),
            Cmd::Flush(Obj::Table(table())),
        ];
        head.extend(
            chains
                .iter()
                .map(|c| Cmd::Delete(Obj::ChainName(NameRef::new(c)))),
        );
        head.extend(
            sets.iter()
                .filter(|n| !keep.contains(&n.as_str()))
                .map(|n| Cmd::Delete(Obj::SetName(NameRef::new(n)))),
        );
        self.serialise(head, keep, bans)
    }

    /// Rule comments per chain, in order: what the read-back is compared with.
    pub fn comments(&self) -> Vec<(&'static str, &str)> {
        self.rules
            .iter()
            .map(|r| (r.chain, r.comment.as_str()))
            .collect()
    }

    fn serialise<'a>(
        &'a self,
        mut cmds: Vec<Cmd<'a>>,
        keep: &[&str],
        bans: &[TimedElement],
    ) -> String {
        cmds.extend(
            self.sets
                .iter()
                .filter(|s| !keep.contains(&s.name.as_ref()))
                .map(|s| Cmd::Add(Obj::Set(s))),
        );
        cmds.extend(self.chains.iter().map(|c| Cmd::Add(Obj::Chain(c))));
        cmds.extend(self.rules.iter().map(|r| {
            Cmd::Add(Obj::Rule(RuleObj {
                family: FAMILY,
                table: TABLE,
                chain: r.chain,
                expr: &r.expr,
                comment: &r.comment,
            }))
        }));
        cmds.extend(bans.iter().map(|e| Cmd::Add(Obj::Element(element(e)))));
        // Serialising plain data structures with string keys cannot fail.
        serde_json::to_string(&Doc { nftables: cmds }).unwrap_or_default()
    }
}

fn element(e: &TimedElement) -> ElementObj {
    ElementObj {
        family: FAMILY,
        table: TABLE,
        name: e.set,
        elem: vec![ElemWrap {
            elem: ElemBody {
                val: e.addr.to_string(),
                timeout: e.timeout_s,
            },
        }],
    }
}

/// One `add element` command for a timed element (a manual ban).
pub fn add_element_json(e: &TimedElement) -> String {
    serde_json::to_string(&Doc {
        nftables: vec![Cmd::Add(Obj::Element(element(e)))],
    })
    .unwrap_or_default()
}

/// One `delete element` command.
pub fn delete_element_json(set: &'static str, addr: IpAddr) -> String {
    #[derive(Serialize)]
    struct Plain {
        family: NfFamily,
        table: &'static str,
        name: &'static str,
        elem: Vec<String>,
    }
    #[derive(Serialize)]
    struct Del {
        delete: DelObj,
    }
    #[derive(Serialize)]
    struct DelObj {
        element: Plain,
    }
    #[derive(Serialize)]
    struct DelDoc {
        nftables: Vec<Del>,
    }
    serde_json::to_string(&DelDoc {
        nftables: vec![Del {
            delete: DelObj {
                element: Plain {
                    family: FAMILY,
                    table: TABLE,
                    name: set,
                    elem: vec![addr.to_string()],
                },
            },
        }],
    })
    .unwrap_or_default()
}
