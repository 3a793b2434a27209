//! HTML building blocks for the server-rendered pages: escaping, the
//! `{{name}}` template filler, tables and badges. The human-readable
//! figures they show come from [`crate::api::text`]. Pure.

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
/// one wide cell when there are no rows. It scrolls sideways inside its
/// own box, so a wide table never widens the page on a phone.
pub fn table(id: &str, headers: &[&str], rows: &[Vec<String>], empty: &str) -> String {
    let mut s = format!(
        "<div class=\"scroll\"><table id=\"{}\"><thead><tr>",
        esc(id)
    );
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
    s.push_str("</tbody></table></div>");
    s
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
    fn empty_table_says_so() {
        let t = table("x", &["a", "b"], &[], "nothing <here>");
        assert!(t.contains("colspan=\"2\"") && t.contains("nothing &lt;here&gt;"));
    }
}
