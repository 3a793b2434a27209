//! The page bodies: view types in, HTML out, through the templates in
//! `web/templates/` (embedded). Pure.

use super::html::{badge, bytes, duration, esc, fill, table, time};
use crate::api::{
    ApiError, BackendView, BanView, ConnView, EventView, RouteView, RulesetView, StatusView,
    VersionView,
};
use crate::config::Config;

const DASHBOARD: &str = include_str!("../../web/templates/dashboard.html");
const ROUTES: &str = include_str!("../../web/templates/routes.html");
const ACCESS: &str = include_str!("../../web/templates/access.html");
const CONNECTIONS: &str = include_str!("../../web/templates/connections.html");
const FIREWALL: &str = include_str!("../../web/templates/firewall.html");
const CONFIG: &str = include_str!("../../web/templates/config.html");
const LOG: &str = include_str!("../../web/templates/log.html");

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
    let ports: Vec<Vec<String>> = s
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
    let listeners: Vec<Vec<String>> = s
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
    let warnings: String = s
        .warnings
        .iter()
        .map(|w| format!("<div class=\"alert warn\">{}</div>", esc(w)))
        .collect();
    let pending = match &s.pending {
        Some(p) => format!(
            "<div class=\"alert warn\">Config version {} is waiting for confirmation ({}s left). <a href=\"/config\">Confirm or roll back</a></div>",
            p.version, p.deadline_secs
        ),
        None => String::new(),
    };
    let recent: Vec<Vec<String>> = bans.iter().take(10).map(ban_row_plain).collect();
    fill(
        DASHBOARD,
        &[
            ("name", &esc(&s.name)),
            ("version", &esc(&s.version)),
            ("uptime", &duration(s.uptime_secs)),
            ("config_version", &s.config_version.to_string()),
            ("warnings", &format!("{pending}{warnings}")),
            (
                "ports",
                &table(
                    "ports",
                    &[
                        "Role",
                        "Name",
                        "State",
                        "Addresses",
                        "MAC",
                        "MTU",
                        "Traffic",
                        "Errors / drops",
                    ],
                    &ports,
                    "no ports managed",
                ),
            ),
            (
                "listeners",
                &table(
                    "listeners",
                    &["Listener", "Bind", "Protocol", "Active", "Total"],
                    &listeners,
                    "no listeners",
                ),
            ),
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

fn ban_row_plain(b: &BanView) -> Vec<String> {
    vec![
        format!("<code>{}</code>", b.addr),
        duration(b.expires_in_secs),
    ]
}

/// One table per backend, servers with health.
pub fn backend_tables(backends: &[BackendView]) -> String {
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

/// Forwards, limits, block list, admin allow list and bans.
pub fn access(cfg: Option<&Config>, bans: &Result<Vec<BanView>, ApiError>, csrf: &str) -> String {
    let (forwards, limits, block, allow) = match cfg {
        Some(c) => config_tables(c),
        None => {
            let na = "<p class=\"muted\">The running config could not be read.</p>".to_string();
            (na.clone(), na.clone(), na.clone(), na)
        }
    };
    let bans_html = match bans {
        Ok(list) => {
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|b| {
                    let mut row = ban_row_plain(b);
                    row.push(format!(
                        "<form method=\"post\" action=\"/bans/delete\" class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"addr\" value=\"{}\"><button class=\"small danger\">Lift</button></form>",
                        esc(csrf),
                        b.addr
                    ));
                    row
                })
                .collect();
            table("bans", &["Address", "Expires in", ""], &rows, "no bans")
        }
        Err(e) => format!(
            "<div class=\"alert bad\">Bans unavailable: {}</div>",
            esc(&e.message)
        ),
    };
    fill(
        ACCESS,
        &[
            ("forwards", &forwards),
            ("limits", &limits),
            ("block", &block),
            ("allow", &allow),
            ("bans", &bans_html),
            ("csrf", &esc(csrf)),
        ],
    )
}

fn config_tables(c: &Config) -> (String, String, String, String) {
    let fw: Vec<Vec<String>> = c
        .forwards
        .iter()
        .map(|f| {
            let to_port = f.to_port.map(|p| format!(":{p}")).unwrap_or_default();
            vec![
                f.proto.to_string(),
                f.ports.to_string(),
                format!("<code>{}{}</code>", f.to_addr, to_port),
                if f.masquerade {
                    "yes".into()
                } else {
                    "no".into()
                },
                esc(&f
                    .allow
                    .iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")),
            ]
        })
        .collect();
    let l = &c.limits;
    let rate = l
        .conn_rate
        .as_ref()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "none".into());
    let limits = vec![
        vec!["New connections per source".into(), esc(&rate)],
        vec!["Burst".into(), l.conn_burst.to_string()],
        vec![
            "Concurrent per source".into(),
            l.conn_max
                .map(|m| m.to_string())
                .unwrap_or_else(|| "none".into()),
        ],
        vec![
            "Ban over the rate".into(),
            if l.ban.is_zero() {
                "off".into()
            } else {
                duration(l.ban.as_secs())
            },
        ],
    ];
    let block: Vec<Vec<String>> = l
        .block
        .iter()
        .map(|b| vec![format!("<code>{}</code>", esc(&b.to_string()))])
        .collect();
    let allow: Vec<Vec<String>> = c
        .admin
        .allow
        .iter()
        .map(|b| vec![format!("<code>{}</code>", esc(&b.to_string()))])
        .collect();
    (
        table(
            "forwards",
            &["Proto", "Ports", "To", "Masquerade", "Allow"],
            &fw,
            "no forwards",
        ),
        table("limits", &["Limit", "Value"], &limits, ""),
        table("block", &["Always dropped"], &block, "block list empty"),
        table(
            "allow",
            &["Admin and SSH allowed from"],
            &allow,
            "anywhere (no admin.allow)",
        ),
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

/// The ruleset with counters.
pub fn firewall(r: &Result<RulesetView, ApiError>) -> String {
    match r {
        Ok(r) => {
            let rows: Vec<Vec<String>> = r
                .counters
                .iter()
                .map(|c| {
                    vec![
                        esc(&c.chain),
                        esc(&c.comment),
                        c.packets.to_string(),
                        bytes(c.bytes),
                    ]
                })
                .collect();
            fill(
                FIREWALL,
                &[
                    (
                        "counters",
                        &table(
                            "counters",
                            &["Chain", "Rule", "Packets", "Bytes"],
                            &rows,
                            "no counters",
                        ),
                    ),
                    ("text", &esc(&r.text)),
                ],
            )
        }
        Err(e) => format!(
            "<h1>Firewall</h1><div class=\"alert bad\">Ruleset unavailable: {}</div>",
            esc(&e.message)
        ),
    }
}

/// The config editor and history.
pub fn config(text: &str, s: &StatusView, history: &[VersionView]) -> String {
    let rows: Vec<Vec<String>> = history
        .iter()
        .rev()
        .map(|v| {
            let state = format!("{:?}", v.state).to_lowercase();
            let class = match state.as_str() {
                "running" => "ok",
                "pending" => "warn",
                "failed" | "rolledback" => "bad",
                _ => "info",
            };
            vec![
                v.version.to_string(),
                time(v.time),
                esc(&v.author),
                esc(&v.comment),
                badge(class, &state),
                format!("<button class=\"small\" data-diff=\"{0}\">diff</button> <button class=\"small\" data-rollback=\"{0}\">roll back to</button>", v.version),
            ]
        })
        .collect();
    let pending = s
        .pending
        .as_ref()
        .map(|p| {
            format!(
                "data-version=\"{}\" data-deadline=\"{}\"",
                p.version, p.deadline_secs
            )
        })
        .unwrap_or_default();
    fill(
        CONFIG,
        &[
            ("text", &esc(text)),
            ("version", &s.config_version.to_string()),
            ("pending", &pending),
            (
                "history",
                &table(
                    "history",
                    &["Version", "Applied", "By", "Comment", "State", ""],
                    &rows,
                    "no history yet",
                ),
            ),
        ],
    )
}

/// The recent events, newest first.
pub fn log(events: &[EventView]) -> String {
    let rows: Vec<Vec<String>> = events
        .iter()
        .rev()
        .map(|e| vec![time(e.time), badge("info", &e.kind), esc(&e.message)])
        .collect();
    fill(
        LOG,
        &[(
            "events",
            &table("events", &["Time", "Kind", "Message"], &rows, "no events"),
        )],
    )
}
