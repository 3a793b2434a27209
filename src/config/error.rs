//! Config problems: a key path, a message and, where the TOML text tells,
//! the line. Pure.

use std::fmt;
use std::ops::Range;

/// One thing wrong with a config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Key path such as `route[2].hosts[0]` or `backend.ingress.servers[1]`;
    /// empty for a problem with the whole file.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// 1-based line in the file, where known.
    pub line: Option<usize>,
}

impl Problem {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            path: path.into(),
            message: message.into(),
            line: None,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.line, self.path.is_empty()) {
            (Some(l), false) => write!(f, "line {l}: {}: {}", self.path, self.message),
            (Some(l), true) => write!(f, "line {l}: {}", self.message),
            (None, false) => write!(f, "{}: {}", self.path, self.message),
            (None, true) => write!(f, "{}", self.message),
        }
    }
}

/// Everything wrong with a config, in file order where lines are known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The problems, at least one.
    pub problems: Vec<Problem>,
}

impl ConfigError {
    /// A single problem.
    pub fn one(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            problems: vec![Problem::new(path, message)],
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()
        .iter()
        .take(offset)
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The offsets where lines start, for many offset → line lookups (one
/// pass over the text, then a binary search each: a 1 MB config with
/// thousands of problems no longer rescans the text per problem).
struct LineIndex(Vec<usize>);

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        let ends = text.bytes().enumerate().filter(|(_, b)| *b == b'\n');
        LineIndex(ends.map(|(i, _)| i).collect())
    }

    /// 1-based line of a byte offset (as [`line_of`]).
    fn line(&self, offset: usize) -> usize {
        self.0.partition_point(|nl| *nl < offset) + 1
    }
}

/// Finds the line of each problem by walking its key path in the TOML text.
pub fn locate(text: &str, problems: &mut [Problem]) {
    let Ok(doc) = toml_edit::ImDocument::parse(text) else {
        return;
    };
    let lines = LineIndex::new(text);
    for p in problems.iter_mut().filter(|p| p.line.is_none()) {
        if let Some(span) = span_of(doc.as_item(), &p.path) {
            p.line = Some(lines.line(span.start));
        }
    }
}

enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn steps(path: &str) -> Vec<Step<'_>> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|s| !s.is_empty()) {
        let (key, rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
        if !key.is_empty() {
            out.push(Step::Key(key));
        }
        for idx in rest.split('[') {
            if let Ok(i) = idx.trim_end_matches(']').parse() {
                out.push(Step::Index(i));
            }
        }
    }
    out
}

/// Where a key-path walk stands in the parsed document.
enum Cursor<'a> {
    Item(&'a toml_edit::Item),
    Table(&'a toml_edit::Table),
    Value(&'a toml_edit::Value),
}

/// The span of the deepest item along `path` that exists.
fn span_of(root: &toml_edit::Item, path: &str) -> Option<Range<usize>> {
    use toml_edit::{Item, Value};
    let mut cur = Cursor::Item(root);
    let mut best = None;
    for step in steps(path) {
        let (next, span) = match (cur, step) {
            (Cursor::Item(Item::Value(v)), s) | (Cursor::Value(v), s) => match (v, s) {
                (Value::InlineTable(t), Step::Key(k)) => {
                    let Some(v) = t.get(k) else { break };
                    (Cursor::Value(v), v.span())
                }
                (Value::Array(a), Step::Index(i)) => {
                    let Some(v) = a.get(i) else { break };
                    (Cursor::Value(v), v.span())
                }
                _ => break,
            },
            (Cursor::Item(Item::ArrayOfTables(a)), Step::Index(i)) => {
                let Some(t) = a.get(i) else { break };
                (Cursor::Table(t), t.span())
            }
            (Cursor::Item(Item::Table(t)), Step::Key(k)) | (Cursor::Table(t), Step::Key(k)) => {
                let Some((key, next)) = t.get_key_value(k) else {
                    break;
                };
                (Cursor::Item(next), next.span().or_else(|| key.span()))
            }
            _ => break,
        };
        cur = next;
        best = span.or(best);
    }
    best
}

/// The key path of the deepest key or value whose text covers `offset`,
/// for errors (from serde) that only give a span.
pub fn path_at(text: &str, offset: usize) -> Option<String> {
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let mut best = None;
    walk_table(doc.as_table(), "", offset, &mut best);
    best.filter(|p| !p.is_empty())
}

fn covers(span: Option<Range<usize>>, offset: usize) -> bool {
    span.is_some_and(|s| s.start <= offset && offset < s.end.max(s.start + 1))
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn walk_table(t: &toml_edit::Table, path: &str, offset: usize, best: &mut Option<String>) {
    if covers(t.span(), offset) {
        *best = Some(path.to_string());
    }
    for (name, _) in t.iter() {
        let Some((key, item)) = t.get_key_value(name) else {
            continue;
        };
        let here = join(path, name);
        if covers(key.span(), offset) || covers(item.span(), offset) {
            *best = Some(here.clone());
        }
        walk_item(item, &here, offset, best);
    }
}

fn walk_item(item: &toml_edit::Item, path: &str, offset: usize, best: &mut Option<String>) {
    match item {
        toml_edit::Item::Table(t) => walk_table(t, path, offset, best),
        toml_edit::Item::ArrayOfTables(a) => {
            for (i, t) in a.iter().enumerate() {
                walk_table(t, &format!("{path}[{i}]"), offset, best);
            }
        }
        toml_edit::Item::Value(v) => walk_value(v, path, offset, best),
        toml_edit::Item::None => {}
    }
}

fn walk_value(v: &toml_edit::Value, path: &str, offset: usize, best: &mut Option<String>) {
    match v {
        toml_edit::Value::InlineTable(t) => {
            for (name, _) in t.iter() {
                let Some((key, item)) = t.get_key_value(name) else {
                    continue;
                };
                let here = join(path, name);
                if covers(key.span(), offset) || covers(item.span(), offset) {
                    *best = Some(here.clone());
                }
                walk_item(item, &here, offset, best);
            }
        }
        toml_edit::Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                let here = format!("{path}[{i}]");
                if covers(v.span(), offset) {
                    *best = Some(here.clone());
                }
                walk_value(v, &here, offset, best);
            }
        }
        _ => {}
    }
}

/// Rewrites a serde message in the operator's words: TOML names for types,
/// no Rust type names, "expected X, found Y".
pub fn humanize(message: &str) -> String {
    let mut m = message.trim().replace('\n', " ");
    for (rust, toml) in [
        (
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        ),
        ("expected u16", "expected a whole number from 0 to 65535"),
        ("expected i64", "expected a whole number"),
        ("expected a sequence", "expected an array"),
        ("expected a map", "expected a table"),
        ("type: map", "type: table"),
        ("type: sequence", "type: array"),
        ("unknown field", "unknown key"),
        ("missing field", "missing key"),
    ] {
        m = m.replace(rust, toml);
    }
    if let Some(at) = m.find("expected struct ") {
        m.truncate(at);
        m.push_str("expected a table");
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some((found, expected)) = m
            .strip_prefix(prefix)
            .and_then(|rest| rest.split_once(", expected "))
        {
            return format!("expected {expected}, found {found}");
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"[limits]
conn_rate = "5/second"

[[listener]]
name = "a"

[[listener]]
name = "b"
accept_proxy = [
    "10.0.0.0/8",
    "::/0",
]

[backend.x]
servers = ["10.0.0.1:1"]
health = { interval = "2s", timeout = "1s" }

[backend.x.more]
deep = 1

[interfaces.internal]
routes = [{ to = "10.42.0.0/16", via = "10.0.0.1" }]
"#;

    fn line(path: &str) -> Option<usize> {
        let mut p = [Problem::new(path, "x")];
        locate(DOC, &mut p);
        p[0].line
    }

    #[test]
    fn lines_of_key_paths() {
        assert_eq!(line("limits.conn_rate"), Some(2));
        assert_eq!(line("listener[0]"), Some(4));
        assert_eq!(line("listener[1].name"), Some(8));
        assert_eq!(line("listener[1].accept_proxy[1]"), Some(11));
        assert_eq!(line("backend.x.servers[0]"), Some(15));
        assert_eq!(line("backend.x.health.timeout"), Some(16));
        assert_eq!(line("backend.x.more.deep"), Some(19));
        assert_eq!(line("interfaces.internal.routes[0].via"), Some(22));
        // A key that is not written falls back to its table's header.
        assert_eq!(line("listener[1].bind"), Some(7));
        assert_eq!(line("backend.x.health.fall"), Some(16));
        assert_eq!(line("listener[5].name"), Some(4), "falls back to the array");
        assert_eq!(line("admin.listen"), None);
        assert_eq!(line(""), None);
    }

    #[test]
    fn key_paths_of_offsets() {
        let at = |needle: &str| {
            let offset = DOC.find(needle).expect("needle in DOC");
            path_at(DOC, offset)
        };
        assert_eq!(at("5/second").as_deref(), Some("limits.conn_rate"));
        assert_eq!(at("name = \"b\"").as_deref(), Some("listener[1].name"));
        assert_eq!(at("::/0").as_deref(), Some("listener[1].accept_proxy[1]"));
        assert_eq!(at("timeout").as_deref(), Some("backend.x.health.timeout"));
        assert_eq!(at("deep").as_deref(), Some("backend.x.more.deep"));
        assert_eq!(
            at("via").as_deref(),
            Some("interfaces.internal.routes[0].via")
        );
        assert_eq!(path_at("not toml", 0), None);
    }

    #[test]
    fn the_line_index_agrees_with_line_of() {
        let text = "a\n\nbb\nccc\n";
        let idx = LineIndex::new(text);
        for offset in 0..=text.len() + 2 {
            assert_eq!(idx.line(offset), line_of(text, offset), "offset {offset}");
        }
    }

    #[test]
    fn line_numbers() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 99), 3);
    }

    #[test]
    fn serde_messages_in_plain_words() {
        assert_eq!(
            humanize("invalid type: string \"many\", expected u32"),
            "expected a whole number from 0 to 4294967295, found string \"many\""
        );
        assert_eq!(
            humanize("invalid type: string \"x\", expected struct FileHealth"),
            "expected a table, found string \"x\""
        );
        assert_eq!(
            humanize("invalid type: map, expected a sequence"),
            "expected an array, found table"
        );
        assert_eq!(humanize("missing field `to`"), "missing key `to`");
        assert!(humanize("unknown field `x`, expected `y`").starts_with("unknown key `x`"));
    }

    #[test]
    fn display_forms() {
        let mut p = Problem::new("a.b", "bad");
        assert_eq!(p.to_string(), "a.b: bad");
        p.line = Some(3);
        assert_eq!(p.to_string(), "line 3: a.b: bad");
        let whole = Problem::new("", "empty");
        assert_eq!(whole.to_string(), "empty");
        let err = ConfigError {
            problems: vec![p, whole],
        };
        assert_eq!(err.to_string(), "line 3: a.b: bad\nempty");
    }
}
