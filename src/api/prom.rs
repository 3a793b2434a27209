//! Prometheus text helpers shared by the `/metrics` renderers: label
//! escaping and the `# HELP`/`# TYPE` lines. Pure.

use std::fmt::Write;

/// Escapes a label value.
pub(super) fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Writes `# HELP` and `# TYPE` once.
pub(super) fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP parvis_{name} {help}");
    let _ = writeln!(out, "# TYPE parvis_{name} {kind}");
}
