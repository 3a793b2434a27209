//! The diagnostic and change commands over the control socket: each asks
//! the daemon through [`client`] and prints an aligned table, or JSON with
//! `--json`. Does I/O (the socket, the config file for `apply`).
//!
//! [`client`]: super::client

use std::path::PathBuf;

use hyper::Method;
use serde_json::{json, Value};

use super::client::call;
use super::ControlError;
use crate::api::text::{bytes, duration, time};
use crate::api::{
    ApplyOutcome, ApplyRequest, BackendView, ConfirmOutcome, ConnView, HaView, RouteView,
    RulesetView, StatusView, VersionView,
};

/// How to reach the running daemon; every control command takes these.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct Ask {
    /// The daemon's control socket.
    #[arg(long, default_value = super::DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// `parvis apply`'s options: the command line's form of an
/// [`ApplyRequest`] (a file instead of its text).
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct ApplyArgs {
    /// The new config file (TOML).
    #[arg(long)]
    pub config: PathBuf,
    /// Roll back by itself unless `parvis confirm` arrives within SECS.
    #[arg(long, value_name = "SECS")]
    pub confirm_within: Option<u64>,
    /// A comment for the history.
    #[arg(long)]
    pub comment: Option<String>,
    /// Override safety refusals (never an invalid config).
    #[arg(long)]
    pub force: bool,
}

impl ApplyArgs {
    /// Reads the config file into an apply request (unreadable: bad input).
    pub fn request(&self) -> Result<ApplyRequest, ControlError> {
        let text = std::fs::read_to_string(&self.config)
            .map_err(|e| ControlError::Input(format!("{}: {e}", self.config.display())))?;
        Ok(ApplyRequest {
            config: text,
            comment: self.comment.clone().unwrap_or_default(),
            confirm_within_secs: self.confirm_within,
            force: self.force,
        })
    }
}

/// The CLI commands that talk to the daemon (`parvis status`, ...).
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum Command {
    /// Show the appliance: name, version, uptime, ports, listeners.
    Status(Ask),
    /// Show routes and backends with server health.
    Routes(Ask),
    /// Show live connections.
    Conns(Ask),
    /// The connection log: the last finished connections (as the journal
    /// has them), filtered by client, host and end reason.
    Log {
        #[command(flatten)]
        filter: super::connlog::LogArgs,
        #[command(flatten)]
        ask: Ask,
    },
    /// Show the nftables ruleset with per-rule counters.
    Ruleset(Ask),
    /// Show the config history.
    History(Ask),
    /// Print the running config's text exactly as applied, secrets
    /// included: user data for a new VM (`--json`: with its version;
    /// `--redact`: secrets masked; `--output FILE`: a 0600 file).
    Export {
        #[command(flatten)]
        args: super::export::ExportArgs,
        #[command(flatten)]
        ask: Ask,
    },
    /// Apply a new config to the running daemon.
    Apply {
        #[command(flatten)]
        args: ApplyArgs,
        #[command(flatten)]
        ask: Ask,
    },
    /// Confirm a pending change.
    Confirm(Ask),
    /// Drain or undrain a backend's server.
    #[command(subcommand)]
    Backend(BackendCmd),
    /// Go back to VERSION, or to the version before the running one.
    Rollback {
        /// The config version to go back to.
        version: Option<u64>,
        #[command(flatten)]
        ask: Ask,
    },
}

/// `parvis backend ...`
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum BackendCmd {
    /// No new connection to SERVER (ADDR:PORT); open ones finish. Kept
    /// across applies and restarts.
    Drain {
        /// The backend's name.
        backend: String,
        /// The server, as in the config (`10.0.0.11:443`).
        server: String,
        #[command(flatten)]
        ask: Ask,
    },
    /// Let SERVER take new connections again.
    Undrain {
        /// The backend's name.
        backend: String,
        /// The server, as in the config.
        server: String,
        #[command(flatten)]
        ask: Ask,
    },
}

impl Command {
    /// Where to ask and how to print.
    pub fn ask(&self) -> &Ask {
        match self {
            Command::Status(a)
            | Command::Routes(a)
            | Command::Conns(a)
            | Command::Ruleset(a)
            | Command::History(a)
            | Command::Confirm(a) => a,
            Command::Apply { ask, .. }
            | Command::Export { ask, .. }
            | Command::Rollback { ask, .. }
            | Command::Log { ask, .. } => ask,
            Command::Backend(BackendCmd::Drain { ask, .. } | BackendCmd::Undrain { ask, .. }) => {
                ask
            }
        }
    }
}

/// Runs a command; returns what to print on stdout.
pub async fn run(cmd: Command) -> Result<String, ControlError> {
    let Ask { socket, json } = cmd.ask().clone();
    let socket = socket.as_path();
    let out = |v: Value, human: String| if json { pretty(&v) } else { human };
    match cmd {
        Command::Status(_) => {
            let s: StatusView = call(socket, Method::GET, "/status", None).await?;
            Ok(out(json!(s), status(&s)))
        }
        Command::Routes(_) => {
            let r: Vec<RouteView> = call(socket, Method::GET, "/routes", None).await?;
            let b: Vec<BackendView> = call(socket, Method::GET, "/backends", None).await?;
            Ok(out(json!({"routes": r, "backends": b}), routes(&r, &b)))
        }
        Command::Conns(_) => {
            let c: Vec<ConnView> = call(socket, Method::GET, "/connections", None).await?;
            Ok(out(json!(c), conns(&c)))
        }
        Command::Log { filter, .. } => super::connlog::run(socket, &filter, json).await,
        Command::Ruleset(_) => {
            let r: RulesetView = call(socket, Method::GET, "/ruleset", None).await?;
            Ok(out(json!(r), ruleset(&r)))
        }
        Command::History(_) => {
            let h: Vec<VersionView> = call(socket, Method::GET, "/history", None).await?;
            Ok(out(json!(h), history(&h)))
        }
        Command::Export { args, .. } => super::export::run(socket, &args, json).await,
        Command::Apply { args, .. } => {
            let req = args.request()?;
            let o: ApplyOutcome = call(socket, Method::POST, "/apply", Some(json!(req))).await?;
            Ok(out(json!(o), applied(&o)))
        }
        Command::Confirm(_) => {
            let o: ConfirmOutcome = call(socket, Method::POST, "/confirm", None).await?;
            Ok(out(
                json!(o),
                format!("confirmed: version {} is running\n", o.version),
            ))
        }
        Command::Backend(b) => {
            let (backend, server, verb) = match &b {
                BackendCmd::Drain {
                    backend, server, ..
                } => (backend, server, "drain"),
                BackendCmd::Undrain {
                    backend, server, ..
                } => (backend, server, "undrain"),
            };
            let path = format!(
                "/backends/{}/servers/{}/{verb}",
                segment(backend),
                segment(server)
            );
            let v: Value = call(socket, Method::POST, &path, None).await?;
            Ok(out(
                v,
                format!("backend {backend}: server {server} {verb}ed\n"),
            ))
        }
        Command::Rollback { version, .. } => {
            let body = json!({ "version": version });
            let o: ApplyOutcome = call(socket, Method::POST, "/rollback", Some(body)).await?;
            Ok(out(
                json!(o),
                format!(
                    "rolled back: version {} is running\n{}",
                    o.version,
                    changes(&o.changes)
                ),
            ))
        }
    }
}

/// A path segment: anything but unreserved characters percent-encoded, so
/// that a name cannot reach another API route.
fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    s.push('\n');
    s
}

/// Aligned columns: a header row in capitals, then the rows.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            let w = widths.get(i).copied().unwrap_or(0);
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                l.push_str(&format!("{c:<w$}  "));
            }
        }
        l.trim_end().to_string() + "\n"
    };
    let mut s = line(headers.iter().map(|h| h.to_string()).collect());
    for row in rows {
        s.push_str(&line(row.clone()));
    }
    s
}

fn status(s: &StatusView) -> String {
    let mut o = format!(
        "name     {}\nversion  {}\nuptime   {}\nconfig   version {}\n",
        s.name,
        s.version,
        duration(s.uptime_secs),
        s.config_version
    );
    if let Some(p) = &s.pending {
        o.push_str(&format!(
            "pending  version {} rolls back in {}s unless `parvis confirm`\n",
            p.version, p.deadline_secs
        ));
    }
    if let Some(ha) = &s.ha {
        o.push_str(&pair(ha));
    }
    let ports: Vec<Vec<String>> = s
        .interfaces
        .iter()
        .map(|l| {
            vec![
                l.role.clone(),
                l.name.clone(),
                l.state.clone(),
                l.addresses.join(","),
                l.mac.clone(),
                l.mtu.to_string(),
                bytes(l.rx_bytes),
                bytes(l.tx_bytes),
            ]
        })
        .collect();
    o.push('\n');
    o.push_str(&table(
        &[
            "ROLE",
            "PORT",
            "STATE",
            "ADDRESSES",
            "MAC",
            "MTU",
            "RX",
            "TX",
        ],
        &ports,
    ));
    let ls: Vec<Vec<String>> = s
        .listeners
        .iter()
        .map(|l| {
            vec![
                l.name.clone(),
                l.bind.clone(),
                l.protocol.clone(),
                l.active.to_string(),
                l.total.to_string(),
            ]
        })
        .collect();
    o.push('\n');
    o.push_str(&table(
        &["LISTENER", "BIND", "PROTOCOL", "ACTIVE", "TOTAL"],
        &ls,
    ));
    for w in &s.warnings {
        o.push_str(&format!("\nwarning: {w}"));
    }
    if !s.warnings.is_empty() {
        o.push('\n');
    }
    o
}

/// The HA lines of `parvis status`.
fn pair(ha: &HaView) -> String {
    let p = &ha.peer;
    let seen = match (p.reachable, p.last_seen_secs) {
        (true, _) => "reachable".to_string(),
        (false, Some(s)) => format!("unreachable, last seen {s}s ago"),
        (false, None) => "unreachable, never seen".to_string(),
    };
    let pending = p
        .pending
        .map(|v| format!(", version {v} pending"))
        .unwrap_or_default();
    let flag = if ha.diverged { "  DIVERGED" } else { "" };
    let fip = ha.neutron.as_ref().map(fip_line).unwrap_or_default();
    format!(
        "ha       node {} ({}), config version {}
peer     {} {} ({}): role {}, config version {}{pending}{flag}
{fip}",
        ha.node,
        ha.role,
        ha.config_version,
        p.name,
        p.address.map(|a| a.to_string()).unwrap_or_default(),
        seen,
        if p.role.is_empty() {
            "unknown"
        } else {
            &p.role
        },
        p.config_version,
    )
}

/// The "neutron" mode's line of `parvis status`: where Neutron says the
/// floating IP points and the verdict against this node's role.
fn fip_line(f: &crate::api::ha::FipView) -> String {
    let port = f
        .port
        .as_deref()
        .map(|p| format!(" (port {p})"))
        .unwrap_or_default();
    let error = f
        .error
        .as_deref()
        .map(|e| format!("\napi      {e}"))
        .unwrap_or_default();
    format!(
        "fip      {} → {}{port}: {}{error}\n",
        f.floating_ip, f.points_at, f.note
    )
}

fn routes(r: &[RouteView], b: &[BackendView]) -> String {
    let rows: Vec<Vec<String>> = r
        .iter()
        .map(|r| {
            let hosts = if r.hosts.is_empty() {
                "(default)".to_string()
            } else {
                r.hosts.join(",")
            };
            vec![r.listener.clone(), hosts, r.backend.clone()]
        })
        .collect();
    let mut o = table(&["LISTENER", "HOSTS", "BACKEND"], &rows);
    let servers: Vec<Vec<String>> = b
        .iter()
        .flat_map(|b| {
            b.servers.iter().map(move |s| {
                vec![
                    b.name.clone(),
                    s.addr.to_string(),
                    match (s.up, s.drained) {
                        (true, false) => "up".into(),
                        (true, true) => "up DRAINED".into(),
                        (false, false) => "DOWN".into(),
                        (false, true) => "DOWN DRAINED".into(),
                    },
                    s.active.to_string(),
                    s.total.to_string(),
                    b.balance.clone(),
                    b.proxy_protocol.clone(),
                ]
            })
        })
        .collect();
    o.push('\n');
    o.push_str(&table(
        &[
            "BACKEND", "SERVER", "HEALTH", "ACTIVE", "TOTAL", "BALANCE", "PROXY",
        ],
        &servers,
    ));
    o
}

fn conns(c: &[ConnView]) -> String {
    let rows: Vec<Vec<String>> = c
        .iter()
        .map(|c| {
            vec![
                c.id.to_string(),
                c.client.to_string(),
                c.listener.clone(),
                c.host.clone().unwrap_or_else(|| "-".into()),
                c.backend.clone().unwrap_or_else(|| "-".into()),
                c.server
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into()),
                duration(c.age_ms / 1000),
                bytes(c.bytes_in),
                bytes(c.bytes_out),
            ]
        })
        .collect();
    let mut o = table(
        &[
            "ID", "CLIENT", "LISTENER", "HOST", "BACKEND", "SERVER", "AGE", "IN", "OUT",
        ],
        &rows,
    );
    o.push_str(&format!("{} connection(s)\n", c.len()));
    o
}

fn ruleset(r: &RulesetView) -> String {
    let rows: Vec<Vec<String>> = r
        .counters
        .iter()
        .map(|c| {
            vec![
                c.chain.clone(),
                c.packets.to_string(),
                c.bytes.to_string(),
                c.comment.clone(),
            ]
        })
        .collect();
    let mut o = r.text.clone();
    if !o.ends_with('\n') {
        o.push('\n');
    }
    o.push('\n');
    o.push_str(&table(&["CHAIN", "PACKETS", "BYTES", "RULE"], &rows));
    o
}

fn history(h: &[VersionView]) -> String {
    let rows: Vec<Vec<String>> = h
        .iter()
        .map(|v| {
            let state = serde_json::to_value(v.state)
                .ok()
                .and_then(|s| s.as_str().map(str::to_string))
                .unwrap_or_default();
            vec![
                v.version.to_string(),
                time(v.time),
                v.author.clone(),
                state,
                v.comment.clone(),
            ]
        })
        .collect();
    table(&["VERSION", "APPLIED", "AUTHOR", "STATE", "COMMENT"], &rows)
}

fn changes(c: &[String]) -> String {
    c.iter().map(|l| format!("  {l}\n")).collect()
}

fn applied(o: &ApplyOutcome) -> String {
    let mut s = format!("applied: version {}\n{}", o.version, changes(&o.changes));
    if let Some(d) = o.pending_deadline_secs {
        s.push_str(&format!(
            "pending: rolls back in {d}s unless you run `parvis confirm`\n"
        ));
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let t = table(
            &["A", "LONG"],
            &[
                vec!["xxxx".into(), "1".into()],
                vec!["y".into(), "22".into()],
            ],
        );
        assert_eq!(t, "A     LONG\nxxxx  1\ny     22\n");
    }
}
