//! The log page: the connection log (the daemon's ring of recently
//! finished connections, filtered by client, host and end reason) above
//! the event log. View values in, HTML out. Pure.

use serde_json::Value;

use super::super::html::{badge, esc, fill, table};
use super::super::i18n::format::{bytes, millis, time};
use super::super::i18n::{translate, Lang};
use crate::api::{ConnLogFilter, EventView};

const LOG: &str = include_str!("../../../web/templates/log.html");

/// Every end reason the forwarder records, with its text's key.
pub(crate) const ENDS: [(&str, &str); 10] = [
    ("client_closed", "end.client_closed"),
    ("backend_closed", "end.backend_closed"),
    ("timeout", "end.timeout"),
    ("no_route", "end.no_route"),
    ("backend_down", "end.backend_down"),
    ("bad_hello", "end.bad_hello"),
    ("proxy_rejected", "end.proxy_rejected"),
    ("overload", "end.overload"),
    ("shutdown", "end.shutdown"),
    ("internal", "end.internal"),
];

fn end_text(l: Lang, end: &str) -> String {
    ENDS.iter()
        .find(|(k, _)| *k == end)
        .map_or_else(|| end.to_string(), |(_, key)| l.t(key).to_string())
}

/// An event's kind in the page's language (an unknown kind as it is).
fn kind_text(l: Lang, kind: &str) -> String {
    const KINDS: [(&str, &str); 13] = [
        ("applied", "kind.applied"),
        ("pending", "kind.pending"),
        ("confirmed", "kind.confirmed"),
        ("rolled-back", "kind.rolled-back"),
        ("failed", "kind.failed"),
        ("refused", "kind.refused"),
        ("restored", "kind.restored"),
        ("error", "kind.error"),
        ("ha", "kind.ha"),
        ("ban", "kind.ban"),
        ("backend", "kind.backend"),
        ("token", "kind.token"),
        ("start", "kind.start"),
    ];
    KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or_else(|| kind.to_string(), |(_, key)| l.t(key).to_string())
}

fn end_class(end: &str) -> &'static str {
    match end {
        "client_closed" | "backend_closed" => "ok",
        "timeout" | "shutdown" | "overload" => "warn",
        _ => "bad",
    }
}

/// The log page.
pub fn log(l: Lang, filter: &ConnLogFilter, lines: &[Value], events: &[EventView]) -> String {
    let mut ends = format!("<option value=\"\">{}</option>", l.h("log.any_end"));
    for (value, key) in ENDS {
        let selected = if filter.end == value { " selected" } else { "" };
        ends.push_str(&format!(
            "<option value=\"{value}\"{selected}>{}</option>",
            l.h(key)
        ));
    }
    let events_rows: Vec<Vec<String>> = events
        .iter()
        .rev()
        .map(|e| {
            vec![
                esc(&time(l, e.time)),
                badge("info", &kind_text(l, &e.kind)),
                l.message(&e.message).replace('\n', "<br>"),
            ]
        })
        .collect();
    let ev_head = [l.t("log.time"), l.t("log.kind"), l.t("log.message")];
    fill(
        &translate(LOG, l),
        &[
            ("client", &esc(&filter.client)),
            ("host", &esc(&filter.host)),
            ("ends", &ends),
            ("conns", &conn_table(l, filter, lines)),
            (
                "events",
                &table("events", &ev_head, &events_rows, l.t("log.no_events")),
            ),
        ],
    )
}

fn end_ms(v: &Value) -> u64 {
    let at = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    at("started_ms").saturating_add(at("duration_ms"))
}

fn conn_table(l: Lang, filter: &ConnLogFilter, lines: &[Value]) -> String {
    let s = |v: &Value, k: &str| esc(v.get(k).and_then(Value::as_str).unwrap_or(""));
    let n = |v: &Value, k: &str| v.get(k).and_then(Value::as_u64);
    let rows: Vec<Vec<String>> = lines
        .iter()
        .map(|v| {
            let end = v.get("end").and_then(Value::as_str).unwrap_or("");
            vec![
                // When it ended, as the journal's line is stamped.
                esc(&time(l, end_ms(v) / 1000)),
                format!("<code>{}</code>", s(v, "client")),
                s(v, "listener"),
                s(v, "host"),
                s(v, "backend"),
                format!("<code>{}</code>", s(v, "server")),
                format!(
                    "→ {} · ← {}",
                    bytes(l, n(v, "bytes_in").unwrap_or(0)),
                    bytes(l, n(v, "bytes_out").unwrap_or(0))
                ),
                millis(l, n(v, "duration_ms").unwrap_or(0)),
                n(v, "ttfb_ms").map(|t| millis(l, t)).unwrap_or_default(),
                format!(
                    "<span data-end=\"{}\">{}</span>",
                    esc(end),
                    badge(end_class(end), &end_text(l, end))
                ),
            ]
        })
        .collect();
    let head = [
        l.t("log.time"),
        l.t("conns.client"),
        l.t("listeners.listener"),
        l.t("conns.host"),
        l.t("routes.backend"),
        l.t("backends.server"),
        l.t("backends.bytes"),
        l.t("log.duration"),
        l.t("log.ttfb"),
        l.t("log.end"),
    ];
    let filtered = !(filter.client.is_empty() && filter.host.is_empty() && filter.end.is_empty());
    let empty = if filtered {
        l.t("log.no_match")
    } else {
        l.t("log.no_conns")
    };
    table("connlog", &head, &rows, empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_the_end_filter_show() {
        let line = serde_json::json!({
            "started_ms": 1_796_133_783_500_u64, "client": "203.0.113.9:5000",
            "listener": "https", "host": "a.example.org", "backend": "k8s",
            "server": "10.0.0.20:443", "bytes_in": 2048, "bytes_out": 10,
            "duration_ms": 1500, "ttfb_ms": 12, "end": "backend_down"
        });
        let f = ConnLogFilter {
            end: "backend_down".into(),
            ..ConnLogFilter::default()
        };
        let html = log(Lang::Fr, &f, &[line], &[]);
        assert!(html.contains("1 déc. 2026 14:03:05 UTC"), "{html}");
        assert!(html.contains("a.example.org") && html.contains("2,0\u{a0}Kio"));
        assert!(html.contains("1,5\u{a0}s") && html.contains("12\u{a0}ms"));
        assert!(html.contains("value=\"backend_down\" selected"), "{html}");
        assert!(html.contains(Lang::Fr.t("end.backend_down")));
        let none = log(Lang::En, &f, &[], &[]);
        assert!(none.contains(Lang::En.t("log.no_match")), "{none}");
    }
}
