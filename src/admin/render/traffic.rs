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
            ("pair", &pair(l, s)),
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

/// The pair's line on the dashboard: this node's role, the peer, the last
/// transition and its cause.
pub fn ha_line(l: Lang, v: &crate::api::ha::HaView) -> String {
    let last = match &v.last {
        Some(t) => format!(
            "{} → {} — {}",
            t.from.as_str(),
            t.to.as_str(),
            esc(&t.cause)
        ),
        None => l.h("ha.no_transition"),
    };
    let line = l.f(
        "ha.line",
        &[
            ("node", &format!("<b>{}</b>", esc(&v.node))),
            ("role", &format!("<b>{}</b>", v.role.as_str())),
            ("peer", &esc(&v.peer)),
            ("address", &esc(&v.peer_address)),
            ("peer_role", &esc(&v.peer_role)),
            ("version", &esc(&v.peer_version)),
            ("last", &last),
            ("health", &esc(&v.health)),
        ],
    );
    format!("<p class=\"ha\" id=\"ha\">{line}</p>\n")
}

/// The HA pair: both nodes, their roles and config versions; empty without `[ha]`.
fn pair(l: Lang, s: &StatusView) -> String {
    let Some(ha) = &s.ha else {
        return String::new();
    };
    let p = &ha.peer;
    let seen = match (p.reachable, p.last_seen_secs) {
        (true, _) => l.t("ha.reachable").to_string(),
        (false, Some(secs)) => l.f("ha.last_seen", &[("ago", &duration(l, secs))]),
        (false, None) => l.t("ha.unreachable").to_string(),
    };
    let rows = vec![
        vec![
            l.f("ha.this_node", &[("node", &esc(&ha.node))]),
            esc(&ha.role),
            ha.config_version.to_string(),
            "-".to_string(),
        ],
        vec![
            esc(&p.name),
            esc(if p.role.is_empty() {
                l.t("ha.unknown")
            } else {
                &p.role
            }),
            p.config_version.to_string(),
            esc(&seen),
        ],
    ];
    let mut flag = if ha.diverged {
        format!(
            "<div class=\"alert warn\" id=\"ha-diverged\">{}</div>",
            l.h("ha.diverged")
        )
    } else {
        String::new()
    };
    if let Some(f) = &ha.neutron {
        flag.push_str(&fip(l, f, &ha.role));
    }
    let heads = [
        l.t("ha.node"),
        l.t("ha.role"),
        l.t("dash.config_version"),
        l.t("ha.sync"),
    ];
    format!(
        "<section id=\"ha-pair\">\n  <h2>{}</h2>\n  {flag}{}\n</section>",
        l.h("ha.pair"),
        table("ha-nodes", &heads, &rows, "")
    )
}

/// The "neutron" mode: where Neutron says the floating IP points, flagged
/// when this MASTER is not serving (it points elsewhere) or when Neutron
/// and VRRP disagree (it points here and this node is not MASTER), and the
/// API's last error.
fn fip(l: Lang, f: &crate::api::ha::FipView, role: &str) -> String {
    let node = match f.points_at.as_str() {
        "unknown" => esc(l.t("ha.unknown")),
        other => esc(other),
    };
    let mut out = match (f.points_at.as_str(), f.agrees, role) {
        (_, false, "MASTER") => format!(
            "<div class=\"alert bad\" id=\"ha-fip-not-serving\">{}</div>",
            l.f("ha.fip_not_serving", &[("node", &node)])
        ),
        ("unknown", _, _) | (_, true, _) => String::new(),
        (_, false, _) => format!(
            "<div class=\"alert warn\" id=\"ha-fip-disagrees\">{}</div>",
            l.f("ha.fip_disagrees", &[("role", &esc(role))])
        ),
    };
    if let Some(e) = &f.error {
        out.push_str(&format!(
            "<div class=\"alert warn\" id=\"ha-fip-error\">{}</div>",
            l.f("ha.fip_error", &[("error", &esc(e))])
        ));
    }
    let line = l.f(
        "ha.fip",
        &[
            ("id", &esc(&f.floating_ip)),
            ("node", &format!("<b>{node}</b>")),
        ],
    );
    out + &format!("<p id=\"ha-fip\">{line}</p>")
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
        .map(|w| format!("<div class=\"alert warn\">{}</div>", esc(w)))
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
    use super::*;
    use crate::api::{HaPeerView, HaView};

    #[test]
    fn the_pair_is_shown_and_a_divergence_flagged() {
        let mut s = StatusView::default();
        assert_eq!(pair(Lang::En, &s), "", "nothing without [ha]");
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
            neutron: None,
        });
        let html = pair(Lang::En, &s);
        assert!(
            html.contains("id=\"ha-pair\"") && html.contains("id=\"ha-diverged\""),
            "{html}"
        );
        assert!(html.contains("a (this node)") && html.contains("MASTER") && html.contains(">5<"));
        assert!(html.contains("b&lt;x&gt;") && html.contains("BACKUP") && html.contains(">4<"));
        assert!(html.contains("unreachable, last seen"), "{html}");
    }

    #[test]
    fn a_master_the_floating_ip_does_not_reach_is_flagged_in_both_languages() {
        use crate::api::ha::FipView;
        let mut s = StatusView::default();
        let fip = |points_at: &str, agrees: bool| FipView {
            floating_ip: "f1".into(),
            points_at: points_at.into(),
            agrees,
            error: Some("API refused PUT floatingip f1: HTTP 403: <policy>".into()),
            ..FipView::default()
        };
        let ha = |role: &str, f: FipView| HaView {
            node: "a".into(),
            role: role.into(),
            neutron: Some(f),
            ..HaView::default()
        };
        s.ha = Some(ha("MASTER", fip("b", false)));
        let en = pair(Lang::En, &s);
        assert!(
            en.contains("id=\"ha-fip-not-serving\"") && en.contains("NOT SERVING"),
            "{en}"
        );
        assert!(en.contains("points at <b>b</b>"), "{en}");
        assert!(en.contains("HTTP 403: &lt;policy&gt;"), "escaped: {en}");
        let fr = pair(Lang::Fr, &s);
        assert!(
            fr.contains("NE SERT PAS") && fr.contains("L’API OpenStack échoue"),
            "{fr}"
        );
        s.ha = Some(ha("BACKUP", fip("a", false)));
        let en = pair(Lang::En, &s);
        assert!(
            en.contains("id=\"ha-fip-disagrees\"") && en.contains("BACKUP"),
            "{en}"
        );
        assert!(pair(Lang::Fr, &s).contains("DÉSACCORD"));
        s.ha = Some(ha("MASTER", fip("unknown", false)));
        let fr = pair(Lang::Fr, &s);
        assert!(
            fr.contains("ha-fip-not-serving") && fr.contains("inconnu"),
            "{fr}"
        );
        let mut fine = fip("a", true);
        fine.error = None;
        s.ha = Some(ha("MASTER", fine));
        let en = pair(Lang::En, &s);
        assert!(
            en.contains("id=\"ha-fip\"") && !en.contains("alert"),
            "{en}"
        );
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
