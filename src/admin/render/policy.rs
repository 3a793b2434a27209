//! The policy pages: access and bans, firewall, configuration, log.
//! View types in, HTML out, through the embedded templates. Pure.

use super::super::html::{badge, esc, fill, table};
use super::super::i18n::format::{bytes, count, duration, time};
use super::super::i18n::{translate, Lang};
use super::traffic::ban_row_plain;
use crate::api::{ApiError, BanView, RulesetView, StatusView, VersionState, VersionView};
use crate::config::Config;

const ACCESS: &str = include_str!("../../../web/templates/access.html");
const FIREWALL: &str = include_str!("../../../web/templates/firewall.html");
const CONFIG: &str = include_str!("../../../web/templates/config.html");

/// Forwards, limits, block list, admin allow list and bans.
pub fn access(
    l: Lang,
    cfg: Option<&Config>,
    bans: &Result<Vec<BanView>, ApiError>,
    csrf: &str,
) -> String {
    let (forwards, limits, block, allow) = match cfg {
        Some(c) => config_tables(l, c),
        None => {
            let na = format!("<p class=\"muted\">{}</p>", l.h("access.no_config"));
            (na.clone(), na.clone(), na.clone(), na)
        }
    };
    let bans_html = match bans {
        Ok(list) => {
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|b| {
                    let mut row = ban_row_plain(l, b);
                    row.push(format!(
                        "<form method=\"post\" action=\"/bans/delete\" class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"addr\" value=\"{}\"><button class=\"small danger\">{}</button></form>",
                        esc(csrf),
                        b.addr,
                        l.h("bans.lift")
                    ));
                    row
                })
                .collect();
            let head = [l.t("bans.address"), l.t("bans.expires"), ""];
            table("bans", &head, &rows, l.t("bans.none"))
        }
        Err(e) => format!(
            "<div class=\"alert bad\">{}</div>",
            l.f("bans.unavailable", &[("reason", &esc(&e.message))])
        ),
    };
    fill(
        &translate(ACCESS, l),
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

fn config_tables(l: Lang, c: &Config) -> (String, String, String, String) {
    let cidrs = |list: &[crate::config::Cidr]| -> Vec<Vec<String>> {
        list.iter()
            .map(|b| vec![format!("<code>{}</code>", esc(&b.to_string()))])
            .collect()
    };
    (
        forwards_table(l, c),
        limits_table(l, &c.limits),
        table(
            "block",
            &[l.t("access.dropped")],
            &block_rows(l, c, cidrs(&c.limits.block)),
            l.t("access.block_empty"),
        ),
        table(
            "allow",
            &[l.t("access.allowed_from")],
            &cidrs(&c.admin.allow),
            l.t("access.anywhere"),
        ),
    )
}

/// The inline block list, then one row for `limits.block_file` (its
/// prefixes are counted, not listed: a feed holds tens of thousands).
fn block_rows(l: Lang, c: &Config, mut rows: Vec<Vec<String>>) -> Vec<Vec<String>> {
    if let Some(f) = &c.limits.block_file {
        rows.push(vec![l.f(
            "access.block_file",
            &[
                (
                    "path",
                    &format!("<code>{}</code>", esc(&f.path.display().to_string())),
                ),
                ("n", &f.entries.len().to_string()),
                ("digest", &esc(&f.digest)),
            ],
        )]);
    }
    rows
}

fn forwards_table(l: Lang, c: &Config) -> String {
    let rows: Vec<Vec<String>> = c
        .forwards
        .iter()
        .map(|f| {
            let to_port = f.to_port.map(|p| format!(":{p}")).unwrap_or_default();
            let allow: Vec<String> = f.allow.iter().map(|a| a.to_string()).collect();
            vec![
                f.proto.to_string(),
                f.ports.to_string(),
                format!("<code>{}{}</code>", f.to_addr, to_port),
                l.h(if f.masquerade {
                    "common.yes"
                } else {
                    "common.no"
                }),
                esc(&allow.join(", ")),
            ]
        })
        .collect();
    let head = [
        l.t("fwd.proto"),
        l.t("fwd.ports"),
        l.t("fwd.to"),
        l.t("fwd.masquerade"),
        l.t("fwd.allow"),
    ];
    table("forwards", &head, &rows, l.t("fwd.none"))
}

fn limits_table(l: Lang, lim: &crate::config::Limits) -> String {
    let none = || l.h("common.none");
    let rate = lim
        .conn_rate
        .as_ref()
        .map(|r| esc(&r.to_string()))
        .unwrap_or_else(none);
    let ban = if lim.ban.is_zero() {
        l.h("common.off")
    } else {
        esc(&duration(l, lim.ban.as_secs()))
    };
    let rows = vec![
        vec![l.h("limits.rate"), rate],
        vec![l.h("limits.burst"), count(l, u64::from(lim.conn_burst))],
        vec![
            l.h("limits.concurrent"),
            lim.conn_max
                .map(|m| count(l, u64::from(m)))
                .unwrap_or_else(none),
        ],
        vec![l.h("limits.ban"), ban],
    ];
    table(
        "limits",
        &[l.t("limits.limit"), l.t("limits.value")],
        &rows,
        "",
    )
}

/// The ruleset with counters.
pub fn firewall(l: Lang, r: &Result<RulesetView, ApiError>) -> String {
    match r {
        Ok(r) => {
            let rows: Vec<Vec<String>> = r
                .counters
                .iter()
                .map(|c| {
                    vec![
                        esc(&c.chain),
                        esc(&c.comment),
                        count(l, c.packets),
                        bytes(l, c.bytes),
                    ]
                })
                .collect();
            let head = [
                l.t("fw.chain"),
                l.t("fw.rule"),
                l.t("fw.packets"),
                l.t("backends.bytes"),
            ];
            fill(
                &translate(FIREWALL, l),
                &[
                    (
                        "counters",
                        &table("counters", &head, &rows, l.t("fw.no_counters")),
                    ),
                    ("text", &esc(&r.text)),
                ],
            )
        }
        Err(e) => format!(
            "<h1>{}</h1><div class=\"alert bad\">{}</div>",
            l.h("fw.title"),
            l.f("fw.unavailable", &[("reason", &esc(&e.message))])
        ),
    }
}

/// The config editor and history.
pub fn config(l: Lang, text: &str, s: &StatusView, history: &[VersionView]) -> String {
    let rows: Vec<Vec<String>> = history
        .iter()
        .rev()
        .map(|v| {
            let (class, state) = match v.state {
                VersionState::Running => ("ok", "state.running"),
                VersionState::Pending => ("warn", "state.pending"),
                VersionState::Failed => ("bad", "state.failed"),
                VersionState::RolledBack => ("bad", "state.rolledback"),
                VersionState::Superseded => ("info", "state.superseded"),
            };
            vec![
                v.version.to_string(),
                time(l, v.time),
                esc(&v.author),
                esc(&v.comment),
                badge(class, l.t(state)),
                format!(
                    "<button class=\"small\" data-diff=\"{0}\">{1}</button> <button class=\"small\" data-rollback=\"{0}\">{2}</button>",
                    v.version,
                    l.h("config.diff"),
                    l.h("config.rollback_to")
                ),
            ]
        })
        .collect();
    let head = [
        l.t("config.version"),
        l.t("config.applied"),
        l.t("config.by"),
        l.t("config.comment"),
        l.t("config.state"),
        "",
    ];
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
    let note = l.f(
        "config.export_note",
        &[
            ("apply", "<code>parvis apply</code>"),
            ("export", "<code>parvis export</code>"),
        ],
    );
    fill(
        &translate(CONFIG, l),
        &[
            ("text", &esc(text)),
            ("version", &s.config_version.to_string()),
            ("pending", &pending),
            ("export_note", &note),
            ("messages", &l.message_texts()),
            (
                "history",
                &table("history", &head, &rows, l.t("config.no_history")),
            ),
        ],
    )
}
