//! Message keys for the checker's problems and the daemon's event texts.
//! Pure.
//!
//! The config checker and the change manager write their messages in
//! English, and that English is a contract: `parvis check`, the JSON API,
//! the tests and CONTRACT.md quote it. Rather than thread a key through
//! each of the ~150 places that word a message (and risk changing the
//! English on the way), the English catalogue [`en::TEXTS`] holds one
//! template per message, `{name}` marking a parameter, and [`classify`]
//! finds the template a text was written from and takes its parameters
//! back out. The UI renders the same key in its language; the API adds
//! the key and the parameters next to the English text. A parameter named
//! `why` holds another message (a nested cause) and is classified in turn;
//! one named `list` holds messages joined with `; ` (an apply's changes).
//! A text that no template matches keeps its English (the tests make sure
//! the checker's messages all match).

mod en;

use serde::{Deserialize, Serialize};

/// The English template of every message key.
pub fn templates() -> &'static [(&'static str, &'static str)] {
    en::TEXTS
}

/// A message as a key and its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keyed {
    /// The message key (`check.not_addr_port`).
    pub code: String,
    /// The parameters, in the template's order.
    pub params: Vec<(String, Param)>,
}

/// One parameter of a [`Keyed`] message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Param {
    /// Text from the message, verbatim (a key path, a value, a number).
    Text(String),
    /// A nested message (the parameter `why`).
    Keyed(Box<Keyed>),
    /// Messages joined with `; ` (the parameter `list`).
    List(Vec<Param>),
}

/// How a `list` parameter's items are joined.
pub const LIST_JOIN: &str = "; ";

impl Param {
    /// The parameter's text as the English message had it.
    pub fn english(&self) -> String {
        match self {
            Param::Text(t) => t.clone(),
            Param::Keyed(k) => k.english(),
            Param::List(items) => {
                let texts: Vec<String> = items.iter().map(Param::english).collect();
                texts.join(LIST_JOIN)
            }
        }
    }
}

impl Keyed {
    /// The English text (the message this was classified from).
    pub fn english(&self) -> String {
        let template = en::TEXTS
            .iter()
            .find(|(k, _)| *k == self.code)
            .map_or("", |(_, t)| *t);
        fill(template, |name| {
            self.params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, p)| p.english())
        })
    }

    /// The parameters as a JSON object (`name` → text or nested message).
    pub fn params_json(&self) -> serde_json::Value {
        let map = self.params.iter().map(|(n, p)| (n.clone(), param_json(p)));
        serde_json::Value::Object(map.collect())
    }
}

fn param_json(p: &Param) -> serde_json::Value {
    match p {
        Param::Text(t) => t.clone().into(),
        Param::Keyed(k) => serde_json::json!({"code": k.code, "params": k.params_json()}),
        Param::List(items) => items.iter().map(param_json).collect(),
    }
}

/// Replaces each `{name}` of `template` with `value(name)` (left as it is
/// when `None`). One pass: a value holding braces stays as it is.
pub fn fill(template: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len() * 2);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}').map(|c| &after[..c]).filter(|n| is_name(n)) {
            Some(name) => {
                match value(name) {
                    Some(v) => out.push_str(&v),
                    None => out.push_str(&rest[open..open + name.len() + 2]),
                }
                rest = &after[name.len() + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
}

/// A template cut at its placeholders.
enum Piece<'a> {
    Lit(&'a str),
    Var(&'a str),
}

fn pieces(template: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let rest = template;
    let mut lit_start = 0;
    let mut at = 0;
    while let Some(open) = rest[at..].find('{').map(|o| o + at) {
        let after = &rest[open + 1..];
        match after.find('}').map(|c| &after[..c]).filter(|n| is_name(n)) {
            Some(name) => {
                if open > lit_start {
                    out.push(Piece::Lit(&rest[lit_start..open]));
                }
                out.push(Piece::Var(name));
                lit_start = open + name.len() + 2;
                at = lit_start;
            }
            None => at = open + 1,
        }
    }
    if lit_start < rest.len() {
        out.push(Piece::Lit(&rest[lit_start..]));
    }
    out
}

/// Matches `text` against `pieces`, collecting the parameters. A
/// parameter takes at least one character (an empty one only at the very
/// end), and the shortest span that lets the rest match. Each search
/// spends its length from `budget`: a crafted text with many separators
/// cannot make the backtracking run long.
fn matches<'t>(
    ps: &[Piece<'_>],
    text: &'t str,
    out: &mut Vec<&'t str>,
    budget: &mut usize,
) -> bool {
    match ps.split_first() {
        None => text.is_empty(),
        Some((Piece::Lit(l), rest)) => text
            .strip_prefix(l)
            .is_some_and(|t| matches(rest, t, out, budget)),
        Some((Piece::Var(_), [])) => {
            out.push(text);
            true
        }
        Some((Piece::Var(_), rest)) => {
            let Some(Piece::Lit(next)) = rest.first() else {
                return false; // two placeholders in a row: ambiguous, not allowed
            };
            let mut from = 1.min(text.len());
            loop {
                let cost = text.len() - from + 1;
                if *budget < cost {
                    *budget = 0;
                    return false;
                }
                *budget -= cost;
                let Some(i) = text.get(from..).and_then(|t| t.find(next)) else {
                    return false;
                };
                let cut = from + i;
                let mark = out.len();
                out.push(&text[..cut]);
                if matches(rest, &text[cut..], out, budget) {
                    return true;
                }
                out.truncate(mark);
                from = cut + text[cut..].chars().next().map_or(1, char::len_utf8);
            }
        }
    }
}

/// Texts longer than this keep their English (a message quoting a huge
/// value): no real problem or event is near it.
const MAX_TEXT: usize = 2048;
/// Work for one [`classify`] call, in bytes searched (about 50 times what
/// a real message takes).
const BUDGET: usize = 1 << 20;

/// The templates cut at their placeholders, with their fixed text's length.
type Parsed = (&'static str, Vec<Piece<'static>>, usize);

fn parsed() -> &'static [Parsed] {
    static PARSED: std::sync::OnceLock<Vec<Parsed>> = std::sync::OnceLock::new();
    PARSED.get_or_init(|| {
        en::TEXTS
            .iter()
            .map(|(code, template)| {
                let ps = pieces(template);
                let fixed = ps
                    .iter()
                    .map(|p| if let Piece::Lit(l) = p { l.len() } else { 0 })
                    .sum();
                (*code, ps, fixed)
            })
            .collect()
    })
}

/// The key and parameters `text` was written from: of the templates that
/// match, the one that explains the most of the text with fixed words
/// (its own and, through `why`, its nested messages'). `None` when none
/// matches.
pub fn classify(text: &str) -> Option<Keyed> {
    if text.len() > MAX_TEXT {
        return None;
    }
    let mut budget = BUDGET;
    classify_depth(text, 0, &mut budget).map(|(_, k)| k)
}

fn classify_depth(text: &str, depth: usize, budget: &mut usize) -> Option<(usize, Keyed)> {
    if text.is_empty() || depth > 4 {
        return None;
    }
    let mut best: Option<(usize, Keyed)> = None;
    for (code, ps, fixed) in parsed() {
        // A template ending in fixed text must end the text: checked first,
        // it turns most templates away without a search.
        if let Some(Piece::Lit(last)) = ps.last() {
            if !text.ends_with(last) {
                continue;
            }
        }
        let mut values = Vec::new();
        if !matches(ps, text, &mut values, budget) {
            continue;
        }
        let mut score = *fixed;
        let names = ps.iter().filter_map(|p| match p {
            Piece::Var(n) => Some(*n),
            Piece::Lit(_) => None,
        });
        let mut params = Vec::new();
        for (name, v) in names.zip(values) {
            let p = if name == "list" {
                let items = v
                    .split(LIST_JOIN)
                    .map(|item| nested(item, depth, &mut score, budget));
                Param::List(items.collect())
            } else if name.starts_with("why") {
                nested(v, depth, &mut score, budget)
            } else {
                Param::Text(v.to_string())
            };
            params.push((name.to_string(), p));
        }
        if best.as_ref().is_none_or(|b| score > b.0) {
            let code = code.to_string();
            best = Some((score, Keyed { code, params }));
        }
    }
    best
}

/// `text` as a nested message (its fixed words added to `score`), or as
/// text when no template matches.
fn nested(text: &str, depth: usize, score: &mut usize, budget: &mut usize) -> Param {
    match classify_depth(text, depth + 1, budget) {
        Some((s, k)) => {
            *score += s;
            Param::Keyed(Box::new(k))
        }
        None => Param::Text(text.to_string()),
    }
}

/// The names of a template's placeholders, in order.
pub fn placeholders(template: &str) -> Vec<&str> {
    pieces(template)
        .into_iter()
        .filter_map(|p| match p {
            Piece::Var(n) => Some(n),
            Piece::Lit(_) => None,
        })
        .collect()
}

#[cfg(test)]
mod tests;
