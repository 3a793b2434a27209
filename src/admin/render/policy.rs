//! The policy pages: access and bans, firewall, configuration, log.
//! View types in, HTML out, through the embedded templates. Pure.

use super::super::html::{badge, esc, fill, table};
use super::traffic::ban_row_plain;
use crate::api::text::{bytes, duration, time};
use crate::api::{ApiError, BanView, EventView, RulesetView, StatusView, VersionView};
use crate::config::Config;

const ACCESS: &str = include_str!("../../../web/templates/access.html");
const FIREWALL: &str = include_str!("../../../web/templates/firewall.html");
const CONFIG: &str = include_str!("../../../web/templates/config.html");
const LOG: &str = include_str!("../../../web/templates/log.html");

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
    let cidrs = |list: &[crate::config::Cidr]| -> Vec<Vec<String>> {
        list.iter()
            .map(|b| vec![format!("<code>{}</code>", esc(&b.to_string()))])
            .collect()
    };
    (
        forwards_table(c),
        limits_table(&c.limits),
        table(
            "block",
            &["Always dropped"],
            &block_rows(c, cidrs(&c.limits.block)),
            "block list empty",
        ),
        table(
            "allow",
            &["Admin and SSH allowed from"],
            &cidrs(&c.admin.allow),
            "anywhere (no admin.allow)",
        ),
    )
}

/// The inline block list, then one row for `limits.block_file` (its
/// prefixes are counted, not listed: a feed holds tens of thousands).
fn block_rows(c: &Config, mut rows: Vec<Vec<String>>) -> Vec<Vec<String>> {
    if let Some(f) = &c.limits.block_file {
        rows.push(vec![format!(
            "<code>{}</code>: {} prefixes (sha256 {})",
            esc(&f.path.display().to_string()),
            f.entries.len(),
            esc(&f.digest)
        )]);
    }
    rows
}

fn forwards_table(c: &Config) -> String {
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
                if f.masquerade { "yes" } else { "no" }.to_string(),
                esc(&allow.join(", ")),
            ]
        })
        .collect();
    let head = ["Proto", "Ports", "To", "Masquerade", "Allow"];
    table("forwards", &head, &rows, "no forwards")
}

fn limits_table(l: &crate::config::Limits) -> String {
    let none = || "none".to_string();
    let rate = l
        .conn_rate
        .as_ref()
        .map(|r| r.to_string())
        .unwrap_or_else(none);
    let ban = if l.ban.is_zero() {
        "off".into()
    } else {
        duration(l.ban.as_secs())
    };
    let rows = vec![
        vec!["New connections per source".into(), esc(&rate)],
        vec!["Burst".into(), l.conn_burst.to_string()],
        vec![
            "Concurrent per source".into(),
            l.conn_max.map(|m| m.to_string()).unwrap_or_else(none),
        ],
        vec!["Ban over the rate".into(), ban],
    ];
    table("limits", &["Limit", "Value"], &rows, "")
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
