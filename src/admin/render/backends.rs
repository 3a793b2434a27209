//! The backend tables of the dashboard and the routes page: servers with
//! health, drained state, counters and, on the routes page, the drain and
//! undrain buttons. Pure.

use super::super::html::{badge, esc, table};
use super::super::i18n::format::{bytes, count};
use super::super::i18n::Lang;
use crate::api::BackendView;

/// One table per backend, servers with health; with a CSRF token, each
/// server gets a drain or undrain button.
pub(super) fn backend_tables(l: Lang, backends: &[BackendView], csrf: Option<&str>) -> String {
    if backends.is_empty() {
        return format!("<p class=\"muted\">{}</p>", l.h("backends.none"));
    }
    let mut out = String::new();
    for b in backends {
        let up = b.servers.iter().filter(|s| s.up).count();
        let rows: Vec<Vec<String>> = b
            .servers
            .iter()
            .map(|s| server_row(l, &b.name, s, csrf))
            .collect();
        let mut head = vec![
            l.t("backends.server"),
            l.t("backends.health"),
            l.t("listeners.active"),
            l.t("listeners.total"),
            l.t("backends.bytes"),
        ];
        if csrf.is_some() {
            head.push("");
        }
        let summary = l.f(
            "backends.summary",
            &[
                ("balance", &esc(&b.balance)),
                ("proxy", &esc(&b.proxy_protocol)),
                ("up", &up.to_string()),
                ("all", &b.servers.len().to_string()),
            ],
        );
        out.push_str(&format!(
            "<div class=\"backend\"><h3>{} <small>{summary}</small></h3>{}</div>",
            esc(&b.name),
            table(
                &format!("backend-{}", b.name),
                &head,
                &rows,
                l.t("backends.no_servers")
            )
        ));
    }
    out
}

fn server_row(
    l: Lang,
    backend: &str,
    s: &crate::api::ServerView,
    csrf: Option<&str>,
) -> Vec<String> {
    let mut health = if s.up {
        badge("ok", l.t("backends.up"))
    } else {
        badge("bad", l.t("backends.down"))
    };
    if s.drained {
        health.push(' ');
        health.push_str(&badge("warn", l.t("backends.drained")));
    }
    let mut row = vec![
        format!("<code>{}</code>", s.addr),
        health,
        count(l, s.active),
        count(l, s.total),
        format!("→ {} · ← {}", bytes(l, s.bytes_in), bytes(l, s.bytes_out)),
    ];
    if let Some(csrf) = csrf {
        let (on, label, class) = if s.drained {
            ("0", l.h("backends.undrain"), "small")
        } else {
            ("1", l.h("backends.drain"), "small danger")
        };
        row.push(format!(
            "<form method=\"post\" action=\"/backends/drain\" class=\"inline drain\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"backend\" value=\"{}\"><input type=\"hidden\" name=\"server\" value=\"{}\"><input type=\"hidden\" name=\"on\" value=\"{on}\"><button class=\"{class}\" type=\"submit\">{label}</button></form>",
            esc(csrf),
            esc(backend),
            s.addr
        ));
    }
    row
}
