//! The HA pair on the dashboard: the pair's line, both nodes' roles and
//! config versions, a divergence, and in the "neutron" mode where Neutron
//! says the floating IP points (NOT SERVING / DISAGREES flagged). Pure.

use super::super::html::{esc, table};
use super::super::i18n::format::duration;
use super::super::i18n::Lang;
use crate::api::StatusView;

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
pub(super) fn pair(l: Lang, s: &StatusView) -> String {
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

#[cfg(test)]
mod tests {
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
}
