//! HTML building blocks for the server-rendered pages: escaping, the
//! `{{name}}` template filler, tables and human-readable figures. Pure.

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Replaces each `{{key}}` in `template` with its value (values are HTML
/// already: escape text with [`esc`] first). One pass, so a value that
/// contains `{{x}}` is not expanded again.
pub fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() * 2);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let key = &after[..end];
                match vars.iter().find(|(k, _)| *k == key) {
                    Some((_, v)) => out.push_str(v),
                    None => out.push_str(&rest[start..start + 2 + end + 2]),
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// A table; `rows` hold HTML cells (escaped already). `empty` is shown in
/// one wide cell when there are no rows.
pub fn table(id: &str, headers: &[&str], rows: &[Vec<String>], empty: &str) -> String {
    let mut s = format!("<table id=\"{}\"><thead><tr>", esc(id));
    for h in headers {
        s.push_str(&format!("<th>{}</th>", esc(h)));
    }
    s.push_str("</tr></thead><tbody>");
    if rows.is_empty() {
        s.push_str(&format!(
            "<tr class=\"empty\"><td colspan=\"{}\">{}</td></tr>",
            headers.len(),
            esc(empty)
        ));
    }
    for row in rows {
        s.push_str("<tr>");
        for cell in row {
            s.push_str(&format!("<td>{cell}</td>"));
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
    s
}

/// `1.5 MiB`-style byte counts.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// `3d 4h`, `5m 2s`-style durations.
pub fn duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) if s == 0 => format!("{m}m"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// Unix seconds as `2026-11-28 18:52:01 UTC`.
pub fn time(unix: u64) -> String {
    let t = i64::try_from(unix)
        .ok()
        .and_then(|u| time::OffsetDateTime::from_unix_timestamp(u).ok());
    let fmt =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    t.and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| unix.to_string())
}

/// A coloured badge (`ok`, `bad`, `warn`, `info`).
pub fn badge(class: &str, text: &str) -> String {
    format!("<span class=\"badge {}\">{}</span>", esc(class), esc(text))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn esc_and_fill() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let out = fill("<p>{{a}} {{b}} {{c}}</p>", &[("a", "1"), ("b", "{{a}}")]);
        assert_eq!(out, "<p>1 {{a}} {{c}}</p>");
    }

    #[test]
    fn figures() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(duration(62), "1m 2s");
        assert_eq!(duration(600), "10m");
        assert_eq!(duration(90061), "1d 1h");
        assert_eq!(time(0), "1970-01-01 00:00:00 UTC");
    }

    #[test]
    fn empty_table_says_so() {
        let t = table("x", &["a", "b"], &[], "nothing <here>");
        assert!(t.contains("colspan=\"2\"") && t.contains("nothing &lt;here&gt;"));
    }
}
