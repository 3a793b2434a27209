//! The traffic pages: dashboard, routes and backends, live connections.
//! View types in, HTML out, through the embedded templates. Pure.

use super::super::html::{badge, esc, fill, table};
use crate::api::text::{bytes, duration};
use crate::api::{BackendView, BanView, ConnView, RouteView, StatusView};

const DASHBOARD: &str = include_str!("../../../web/templates/dashboard.html");
const ROUTES: &str = include_str!("../../../web/templates/routes.html");
const CONNECTIONS: &str = include_str!("../../../web/templates/connections.html");

fn state_badge(state: &str) -> String {
    let class = match state {
        "up" => "ok",
        "down" | "missing" => "bad",
        _ => "warn",
    };
    badge(class, state)
}

/// The dashboard.
pub fn dashboard(s: &StatusView, backends: &[BackendView], bans: &[BanView], fp: &str) -> String {
    let recent: Vec<Vec<String>> = bans.iter().take(10).map(ban_row_plain).collect();
    fill(
        DASHBOARD,
        &[
            ("name", &esc(&s.name)),
            ("version", &esc(&s.version)),
            ("uptime", &duration(s.uptime_secs)),
            ("config_version", &s.config_version.to_string()),
            ("warnings", &alerts(s)),
            ("ports", &ports_table(s)),
            ("listeners", &listeners_table(s)),
            ("backends", &backend_tables(backends)),
            (
                "bans",
                &table(
                    "recent-bans",
                    &["Address", "Expires in"],
                    &recent,
                    "no bans",
                ),
            ),
            ("fingerprint", &esc(fp)),
        ],
    )
}

/// The pair's line on the dashboard: this node's role, the peer, the last
/// transition and its cause.
pub fn ha_line(v: &crate::api::ha::HaView) -> String {
    let last = match &v.last {
        Some(t) => format!("{} → {}: {}", t.from.as_str(), t.to.as_str(), esc(&t.cause)),
        None => "no transition yet".into(),
    };
    format!(
        "<p class=\"ha\" id=\"ha\">Pair: this node <b>{}</b> is <b>{}</b> · peer {} ({}) role {}, config version {} · last: {} · health: {}</p>\n",
        esc(&v.node),
        v.role.as_str(),
        esc(&v.peer),
        esc(&v.peer_address),
        esc(&v.peer_role),
        esc(&v.peer_version),
        last,
        esc(&v.health),
    )
}

/// The pending change and the daemon's warnings.
fn alerts(s: &StatusView) -> String {
    let pending = match &s.pending {
        Some(p) => format!(
            "<div class=\"alert warn\">Config version {} is waiting for confirmation ({}s left). <a href=\"/config\">Confirm or roll back</a></div>",
            p.version, p.deadline_secs
        ),
        None => String::new(),
    };
    let warnings: String = s
        .warnings
        .iter()
        .map(|w| format!("<div class=\"alert warn\">{}</div>", esc(w)))
        .collect();
    pending + &warnings
}

fn ports_table(s: &StatusView) -> String {
    let rows: Vec<Vec<String>> = s
        .interfaces
        .iter()
        .map(|l| {
            vec![
                esc(&l.role),
                format!("<code>{}</code>", esc(&l.name)),
                state_badge(&l.state),
                esc(&l.addresses.join(", ")),
                esc(&l.mac),
                l.mtu.to_string(),
                format!("↓ {} · ↑ {}", bytes(l.rx_bytes), bytes(l.tx_bytes)),
                format!("{} / {}", l.errors, l.drops),
            ]
        })
        .collect();
    let head = [
        "Role",
        "Name",
        "State",
        "Addresses",
        "MAC",
        "MTU",
        "Traffic",
        "Errors / drops",
    ];
    table("ports", &head, &rows, "no ports managed")
}

fn listeners_table(s: &StatusView) -> String {
    let rows: Vec<Vec<String>> = s
        .listeners
        .iter()
        .map(|l| {
            vec![
                esc(&l.name),
                format!("<code>{}</code>", esc(&l.bind)),
                esc(&l.protocol),
                l.active.to_string(),
                l.total.to_string(),
            ]
        })
        .collect();
    let head = ["Listener", "Bind", "Protocol", "Active", "Total"];
    table("listeners", &head, &rows, "no listeners")
}

pub(super) fn ban_row_plain(b: &BanView) -> Vec<String> {
    let scope = match b.scope {
        crate::api::BanScopeView::All => "",
        crate::api::BanScopeView::Admin => " <small>admin port and SSH only</small>",
    };
    vec![
        format!("<code>{}</code>{scope}", b.addr),
        duration(b.expires_in_secs),
    ]
}

/// One table per backend, servers with health.
fn backend_tables(backends: &[BackendView]) -> String {
    if backends.is_empty() {
        return "<p class=\"muted\">No backends.</p>".into();
    }
    let mut out = String::new();
    for b in backends {
        let up = b.servers.iter().filter(|s| s.up).count();
        let rows: Vec<Vec<String>> = b
            .servers
            .iter()
            .map(|s| {
                vec![
                    format!("<code>{}</code>", s.addr),
                    if s.up {
                        badge("ok", "up")
                    } else {
                        badge("bad", "down")
                    },
                    s.active.to_string(),
                    s.total.to_string(),
                    format!("→ {} · ← {}", bytes(s.bytes_in), bytes(s.bytes_out)),
                ]
            })
            .collect();
        out.push_str(&format!(
            "<div class=\"backend\"><h3>{} <small>{} · PROXY {} · {}/{} up</small></h3>{}</div>",
            esc(&b.name),
            esc(&b.balance),
            esc(&b.proxy_protocol),
            up,
            b.servers.len(),
            table(
                &format!("backend-{}", b.name),
                &["Server", "Health", "Active", "Total", "Bytes"],
                &rows,
                "no servers"
            )
        ));
    }
    out
}

/// Routes and backends.
pub fn routes(routes: &[RouteView], backends: &[BackendView]) -> String {
    let rows: Vec<Vec<String>> = routes
        .iter()
        .map(|r| {
            let hosts = if r.hosts.is_empty() {
                "<em>default</em>".to_string()
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
    fill(
        ROUTES,
        &[
            (
                "routes",
                &table(
                    "routes",
                    &["Listener", "Host names", "Backend"],
                    &rows,
                    "no routes",
                ),
            ),
            ("backends", &backend_tables(backends)),
        ],
    )
}

/// Live connections (rows refreshed by `app.js`).
pub fn connections(conns: &[ConnView]) -> String {
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
                duration(c.age_ms / 1000),
                format!("→ {} · ← {}", bytes(c.bytes_in), bytes(c.bytes_out)),
            ]
        })
        .collect();
    fill(
        CONNECTIONS,
        &[
            ("count", &conns.len().to_string()),
            (
                "table",
                &table(
                    "conns",
                    &[
                        "Client",
                        "Listener",
                        "SNI / Host",
                        "Backend",
                        "Server",
                        "Age",
                        "Bytes",
                    ],
                    &rows,
                    "no connections",
                ),
            ),
        ],
    )
}
