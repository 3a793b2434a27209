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

/// Finds the line of each problem by walking its key path in the TOML text.
pub fn locate(text: &str, problems: &mut [Problem]) {
    let Ok(doc) = toml_edit::ImDocument::parse(text) else {
        return;
    };
    for p in problems.iter_mut().filter(|p| p.line.is_none()) {
        if let Some(span) = span_of(doc.as_item(), &p.path) {
            p.line = Some(line_of(text, span.start));
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
                    let v = t.get(k)?;
                    (Cursor::Value(v), v.span())
                }
                (Value::Array(a), Step::Index(i)) => {
                    let v = a.get(i)?;
                    (Cursor::Value(v), v.span())
                }
                _ => break,
            },
            (Cursor::Item(Item::ArrayOfTables(a)), Step::Index(i)) => {
                let t = a.get(i)?;
                (Cursor::Table(t), t.span())
            }
            (Cursor::Item(Item::Table(t)), Step::Key(k)) | (Cursor::Table(t), Step::Key(k)) => {
                let (key, next) = t.get_key_value(k)?;
                (Cursor::Item(next), next.span().or_else(|| key.span()))
            }
            _ => break,
        };
        cur = next;
        best = span.or(best);
    }
    best
}
