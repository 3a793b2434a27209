//! The traffic pages: dashboard, routes and backends, live connections.
//! View types in, HTML out, through the embedded templates. Pure.

use super::super::html::{badge, esc, fill, table};
use crate::api::text::{bytes, duration};
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
            ("pair", &pair(s)),
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

/// The HA pair: both nodes, their roles and config versions; empty without `[ha]`.
fn pair(s: &StatusView) -> String {
    let Some(ha) = &s.ha else {
        return String::new();
    };
    let p = &ha.peer;
    let seen = match (p.reachable, p.last_seen_secs) {
        (true, _) => "reachable".to_string(),
        (false, Some(secs)) => format!("unreachable, last seen {} ago", duration(secs)),
        (false, None) => "unreachable".to_string(),
    };
    let rows = vec![
        vec![
            format!("{} (this node)", esc(&ha.node)),
            esc(&ha.role),
            ha.config_version.to_string(),
            "-".to_string(),
        ],
        vec![
            esc(&p.name),
            esc(if p.role.is_empty() {
                "unknown"
            } else {
                &p.role
            }),
            p.config_version.to_string(),
            esc(&seen),
        ],
    ];
    let flag = if ha.diverged {
        "<div class=\"alert warn\" id=\"ha-diverged\">The two nodes run different config versions.</div>"
    } else {
        ""
    };
    format!(
        "<section id=\"ha-pair\">\n  <h2>HA pair</h2>\n  {flag}{}\n</section>",
        table(
            "ha-nodes",
            &["Node", "Role", "Config version", "Sync"],
            &rows,
            ""
        )
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

#[cfg(test)]
mod tests {
    use super::state_badge;
    use super::*;
    use crate::api::{HaPeerView, HaView};

    #[test]
    fn the_pair_is_shown_and_a_divergence_flagged() {
        let mut s = StatusView::default();
        assert_eq!(pair(&s), "", "nothing without [ha]");
        s.ha = Some(HaView {
            node: "a".into(),
            role: "MASTER".into(),
            config_version: 5,
            diverged: true,
            peer: HaPeerView {
                name: "b<x>".into(),
                role: "BACKUP".into(),
                config_version: 4,
                last_seen_secs: Some(90),
                ..HaPeerView::default()
            },
        });
        let html = pair(&s);
        assert!(
            html.contains("id=\"ha-pair\"") && html.contains("id=\"ha-diverged\""),
            "{html}"
        );
        assert!(html.contains("a (this node)") && html.contains("MASTER") && html.contains(">5<"));
        assert!(html.contains("b&lt;x&gt;") && html.contains("BACKUP") && html.contains(">4<"));
        assert!(html.contains("unreachable, last seen"), "{html}");
    }

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
