//! The traffic pages: dashboard, routes and backends, live connections.
//! View types in, HTML out, through the embedded templates. Pure.

use super::super::html::{badge, esc, fill, table};
use super::super::i18n::format::{bytes, count, duration};
use super::super::i18n::{translate, Lang};
use super::backends::backend_tables;
use crate::api::{BackendView, BanView, ConnView, RouteView, StatusView};

const DASHBOARD: &str = include_str!("../../../web/templates/dashboard.html");
const ROUTES: &str = include_str!("../../../web/templates/routes.html");
const CONNECTIONS: &str = include_str!("../../../web/templates/connections.html");

fn state_badge(state: &str) -> String {
    // Link states come as the kernel names them (`UP`, `LOWERLAYERDOWN`):
    // an up port is as green as a healthy server.
    let class = match state.to_ascii_lowercase().as_str() {
        "up" => "ok",
        "down" | "missing" | "lowerlayerdown" | "notpresent" => "bad",
        _ => "warn",
    };
    badge(class, state)
}

/// The dashboard.
pub fn dashboard(
    l: Lang,
    s: &StatusView,
    backends: &[BackendView],
    bans: &[BanView],
    fp: &str,
) -> String {
    let recent: Vec<Vec<String>> = bans.iter().take(10).map(|b| ban_row_plain(l, b)).collect();
    let heads = [l.t("bans.address"), l.t("bans.expires")];
    fill(
        &translate(DASHBOARD, l),
        &[
            ("name", &esc(&s.name)),
            ("version", &esc(&s.version)),
            ("uptime", &esc(&duration(l, s.uptime_secs))),
            ("config_version", &count(l, s.config_version)),
            ("warnings", &alerts(l, s)),
            ("pair", &super::pair::pair(l, s)),
            ("ports", &ports_table(l, s)),
            ("listeners", &listeners_table(l, s)),
            ("backends", &backend_tables(l, backends, None)),
            (
                "bans",
                &table("recent-bans", &heads, &recent, l.t("bans.none")),
            ),
            ("fingerprint", &esc(fp)),
        ],
    )
}

/// The pending change and the daemon's warnings.
fn alerts(l: Lang, s: &StatusView) -> String {
    let pending = match &s.pending {
        Some(p) => format!(
            "<div class=\"alert warn\">{} <a href=\"/config\">{}</a></div>",
            l.f(
                "dash.pending",
                &[
                    ("version", &p.version.to_string()),
                    ("left", &p.deadline_secs.to_string())
                ]
            ),
            l.h("dash.pending_link")
        ),
        None => String::new(),
    };
    let warnings: String = s
        .warnings
        .iter()
        .map(|w| format!("<div class=\"alert warn\">{}</div>", l.message(w)))
        .collect();
    pending + &warnings
}

fn ports_table(l: Lang, s: &StatusView) -> String {
    let rows: Vec<Vec<String>> = s
        .interfaces
        .iter()
        .map(|p| {
            vec![
                esc(&p.role),
                format!("<code>{}</code>", esc(&p.name)),
                state_badge(&p.state),
                esc(&p.addresses.join(", ")),
                esc(&p.mac),
                p.mtu.to_string(),
                format!("↓ {} · ↑ {}", bytes(l, p.rx_bytes), bytes(l, p.tx_bytes)),
                format!("{} / {}", count(l, p.errors), count(l, p.drops)),
            ]
        })
        .collect();
    let head = [
        l.t("ports.role"),
        l.t("ports.name"),
        l.t("ports.state"),
        l.t("ports.addresses"),
        "MAC",
        "MTU",
        l.t("ports.traffic"),
        l.t("ports.errors"),
    ];
    table("ports", &head, &rows, l.t("ports.none"))
}

fn listeners_table(l: Lang, s: &StatusView) -> String {
    let rows: Vec<Vec<String>> = s
        .listeners
        .iter()
        .map(|x| {
            vec![
                esc(&x.name),
                format!("<code>{}</code>", esc(&x.bind)),
                esc(&x.protocol),
                count(l, x.active),
                count(l, x.total),
            ]
        })
        .collect();
    let head = [
        l.t("listeners.listener"),
        l.t("listeners.bind"),
        l.t("listeners.protocol"),
        l.t("listeners.active"),
        l.t("listeners.total"),
    ];
    table("listeners", &head, &rows, l.t("listeners.none"))
}

pub(super) fn ban_row_plain(l: Lang, b: &BanView) -> Vec<String> {
    let scope = match b.scope {
        crate::api::BanScopeView::All => String::new(),
        crate::api::BanScopeView::Admin => format!(" <small>{}</small>", l.h("bans.admin_only")),
    };
    vec![
        format!("<code>{}</code>{scope}", b.addr),
        esc(&duration(l, b.expires_in_secs)),
    ]
}

/// Routes and backends, with the drain buttons.
pub fn routes(l: Lang, routes: &[RouteView], backends: &[BackendView], csrf: &str) -> String {
    let rows: Vec<Vec<String>> = routes
        .iter()
        .map(|r| {
            let hosts = if r.hosts.is_empty() {
                format!("<em>{}</em>", l.h("routes.default"))
            } else {
                r.hosts
                    .iter()
                    .map(|h| format!("<code>{}</code>", esc(h)))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            vec![esc(&r.listener), hosts, esc(&r.backend)]
        })
        .collect();
    let head = [
        l.t("listeners.listener"),
        l.t("routes.hosts"),
        l.t("routes.backend"),
    ];
    fill(
        &translate(ROUTES, l),
        &[
            ("routes", &table("routes", &head, &rows, l.t("routes.none"))),
            ("backends", &backend_tables(l, backends, Some(csrf))),
        ],
    )
}

/// Live connections (rows refreshed by `app.js`).
pub fn connections(l: Lang, conns: &[ConnView]) -> String {
    let rows: Vec<Vec<String>> = conns
        .iter()
        .map(|c| {
            vec![
                format!("<code>{}</code>", c.client),
                esc(&c.listener),
                esc(c.host.as_deref().unwrap_or("")),
                esc(c.backend.as_deref().unwrap_or("")),
                c.server
                    .map(|s| format!("<code>{s}</code>"))
                    .unwrap_or_default(),
                esc(&duration(l, c.age_ms / 1000)),
                format!("→ {} · ← {}", bytes(l, c.bytes_in), bytes(l, c.bytes_out)),
            ]
        })
        .collect();
    let head = [
        l.t("conns.client"),
        l.t("listeners.listener"),
        l.t("conns.host"),
        l.t("routes.backend"),
        l.t("backends.server"),
        l.t("conns.age"),
        l.t("backends.bytes"),
    ];
    fill(
        &translate(CONNECTIONS, l),
        &[
            ("count", &conns.len().to_string()),
            ("table", &table("conns", &head, &rows, l.t("conns.none"))),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::state_badge;

    #[test]
    fn an_up_port_is_green_like_a_healthy_server() {
        // The kernel says `UP`; this used to fall through to the warning colour.
        assert_eq!(state_badge("UP"), super::badge("ok", "UP"));
        assert_eq!(state_badge("up"), super::badge("ok", "up"));
        assert!(state_badge("DOWN").contains("bad"));
        assert!(state_badge("LOWERLAYERDOWN").contains("bad"));
        assert!(state_badge("UNKNOWN").contains("warn"));
    }
}
