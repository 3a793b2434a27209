//! `parvis ha status [--json]` and `parvis ha handover` over the control
//! socket. Does I/O (the socket).

use std::path::{Path, PathBuf};

use hyper::Method;
use serde_json::Value;

use super::cli::Ask;
use super::client::call;
use super::ControlError;
use crate::api::ha::HaView;

/// `parvis ha ...`
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum HaCmd {
    /// This node's role, the peer, the last transition and its cause.
    Status(Ask),
    /// Planned switch: the peer takes both VIPs, this node stands by as BACKUP.
    Handover(Ask),
    /// keepalived's health script: exit 0 when the daemon's health file
    /// says "ok" and is fresh (hidden).
    #[command(hide = true)]
    Check {
        /// The health file.
        #[arg(long)]
        file: PathBuf,
        /// Older than this (milliseconds) counts as a hung daemon.
        #[arg(long, default_value_t = 1000)]
        max_age_ms: u64,
    },
}

/// Runs `parvis ha status` or `handover`; returns what to print. `check`
/// asks no daemon: the command line runs it itself (`ha::health::check`).
pub async fn run(cmd: HaCmd) -> Result<String, ControlError> {
    match cmd {
        HaCmd::Status(a) => status(&a.socket, a.json).await,
        HaCmd::Handover(a) => handover(&a.socket).await,
        HaCmd::Check { .. } => Err(ControlError::Input(
            "`parvis ha check` reads a file; it does not talk to the daemon".into(),
        )),
    }
}

/// `parvis ha status`: the pair as this node sees it.
pub async fn status(socket: &Path, as_json: bool) -> Result<String, ControlError> {
    let v: HaView = call(socket, Method::GET, "/ha", None).await?;
    if as_json {
        let mut s =
            serde_json::to_string_pretty(&v).map_err(|e| ControlError::Http(e.to_string()))?;
        s.push('\n');
        return Ok(s);
    }
    Ok(human(&v))
}

/// `parvis ha handover`: the peer takes both VIPs; prints what happened.
pub async fn handover(socket: &Path) -> Result<String, ControlError> {
    let v: Value = call(
        socket,
        Method::POST,
        "/ha/handover",
        Some(serde_json::json!({})),
    )
    .await?;
    let msg = v.get("message").and_then(Value::as_str).unwrap_or("done");
    Ok(format!("{msg}\n"))
}

/// The aligned text of `parvis ha status`.
pub fn human(v: &HaView) -> String {
    let last = match &v.last {
        Some(t) => format!(
            "{} → {} at {}: {}",
            t.from.as_str(),
            t.to.as_str(),
            crate::api::text::time(t.at),
            t.cause
        ),
        None => "none yet".into(),
    };
    let rows = [
        ("role", v.role.as_str().to_string()),
        ("node", format!("{} ({})", v.node, v.address)),
        (
            "peer",
            format!(
                "{} ({}), role {}, config version {}",
                v.peer, v.peer_address, v.peer_role, v.peer_version
            ),
        ),
        ("vips", v.vips.join(", ")),
        ("health", v.health.clone()),
        (
            "standby",
            if v.standby {
                "yes (handover)".into()
            } else {
                "no".into()
            },
        ),
        ("last", last),
        ("transitions", v.transitions.to_string()),
    ];
    let mut rows = rows.to_vec();
    if let Some(f) = &v.neutron {
        rows.extend(fip_rows(f));
    }
    rows.iter()
        .map(|(k, val)| format!("{k:<12} {val}\n"))
        .collect()
}

/// The floating IP's rows (`mode = "neutron"`).
fn fip_rows(f: &crate::api::ha::FipView) -> Vec<(&'static str, String)> {
    let port = match (&f.port, &f.fixed_ip) {
        (Some(p), Some(a)) => format!("port {p} ({a}), node {}", f.points_at),
        (Some(p), None) => format!("port {p}, node {}", f.points_at),
        (None, _) => f.points_at.clone(),
    };
    let checked = f
        .checked_at
        .map_or_else(|| "never".into(), crate::api::text::time);
    let mut rows = vec![
        (
            "floating ip",
            format!("{} → {port} (Neutron, checked {checked})", f.floating_ip),
        ),
        ("serving", f.note.clone()),
    ];
    if let Some(m) = &f.last_move {
        rows.push(("fip moved", m.clone()));
    }
    if let Some(e) = &f.error {
        rows.push(("api", format!("{e} ({} failed calls)", f.errors)));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ha::{Role, Transition};

    #[test]
    fn status_names_role_peer_and_cause() {
        let v = HaView {
            node: "a".into(),
            address: "10.0.0.2".into(),
            role: Role::Master,
            peer: "b".into(),
            peer_address: "10.0.0.3".into(),
            peer_role: "unknown".into(),
            peer_version: "unknown".into(),
            last: Some(Transition {
                from: Role::Backup,
                to: Role::Master,
                at: 0,
                cause: "peer b stopped advertising".into(),
            }),
            transitions: 2,
            health: "ok".into(),
            standby: false,
            vips: ["192.168.10.4/24".into(), "10.0.0.1/24".into()],
            neutron: None,
        };
        let t = human(&v);
        assert!(t.starts_with("role         MASTER\n"), "{t}");
        assert!(t.contains("peer         b (10.0.0.3), role unknown"), "{t}");
        assert!(t.contains("BACKUP → MASTER at"), "{t}");
        assert!(t.contains("peer b stopped advertising"), "{t}");
    }
}
