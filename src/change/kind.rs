//! `Change`: one difference between two configs, its text for the log and
//! which apply steps it needs. Pure.

use std::fmt;
use std::net::SocketAddr;

use crate::config::{Cidr, Forward};
/// One difference between two configs.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// `admin.allow` changed.
    AdminAllow {
        /// Before.
        from: Vec<Cidr>,
        /// After.
        to: Vec<Cidr>,
    },
    /// `admin.listen` changed.
    AdminListen {
        /// Before.
        from: SocketAddr,
        /// After.
        to: SocketAddr,
    },
    /// `admin.tls_cert`/`tls_key` changed.
    AdminTls,
    /// `admin.ssh_port` changed.
    SshPort {
        /// Before.
        from: u16,
        /// After.
        to: u16,
    },
    /// A `[limits]` key changed.
    Limit {
        /// The key under `limits.`.
        key: &'static str,
        /// Before.
        from: String,
        /// After.
        to: String,
    },
    /// A `[[forward]]` appeared.
    ForwardAdded(Forward),
    /// A `[[forward]]` went away.
    ForwardRemoved(Forward),
    /// `egress.masquerade` changed.
    Egress {
        /// Before.
        from: Vec<Cidr>,
        /// After.
        to: Vec<Cidr>,
    },
    /// An `[interfaces.ROLE]` port appeared, went away or changed.
    Interface {
        /// `public` or `internal`.
        role: &'static str,
        /// The key (`port` for the whole port, else `mac`/`name`/`address`/…).
        key: &'static str,
        /// Before (`none` when absent).
        from: String,
        /// After (`none` when absent).
        to: String,
    },
    /// A listener appeared.
    ListenerAdded {
        /// Name.
        name: String,
        /// Where it binds.
        bind: SocketAddr,
    },
    /// A listener went away.
    ListenerRemoved {
        /// Name.
        name: String,
        /// Where it was bound.
        bind: SocketAddr,
    },
    /// A listener moved to another address or port.
    ListenerRebound {
        /// Name.
        name: String,
        /// Before.
        from: SocketAddr,
        /// After.
        to: SocketAddr,
    },
    /// Another setting of a listener changed.
    ListenerSettings {
        /// Name.
        name: String,
        /// The key.
        key: &'static str,
        /// Before.
        from: String,
        /// After.
        to: String,
    },
    /// The route table of a listener (present before and after) changed.
    Routes {
        /// Listener name.
        listener: String,
        /// `host → backend` entries added.
        added: Vec<String>,
        /// `host → backend` entries removed.
        removed: Vec<String>,
    },
    /// A backend appeared.
    BackendAdded {
        /// Name.
        name: String,
        /// Its servers.
        servers: Vec<SocketAddr>,
    },
    /// A backend went away.
    BackendRemoved {
        /// Name.
        name: String,
    },
    /// A server joined a backend.
    ServerAdded {
        /// Backend name.
        backend: String,
        /// The server.
        server: SocketAddr,
    },
    /// A server left a backend.
    ServerRemoved {
        /// Backend name.
        backend: String,
        /// The server.
        server: SocketAddr,
    },
    /// Another setting of a backend changed.
    BackendSettings {
        /// Backend name.
        backend: String,
        /// The key.
        key: &'static str,
        /// Before.
        from: String,
        /// After.
        to: String,
    },
    /// An `[appliance]` key changed.
    Appliance {
        /// The key.
        key: &'static str,
        /// Before.
        from: String,
        /// After.
        to: String,
    },
    /// `[ha]` changed, appeared or went away: keepalived, conntrackd and
    /// the config sync keep the section read when the daemon started.
    Ha {
        /// The keys that changed (`vrid`, `node`, ...), or `[ha]` itself.
        keys: Vec<&'static str>,
    },
    /// `[metrics]` listen changed, appeared or went away.
    Metrics {
        /// Before.
        from: Option<SocketAddr>,
        /// After.
        to: Option<SocketAddr>,
    },
}

impl Change {
    /// The nftables ruleset must be replaced.
    pub fn needs_firewall(&self) -> bool {
        use Change::*;
        matches!(
            self,
            AdminAllow { .. }
                | AdminListen { .. }
                | SshPort { .. }
                | Limit { .. }
                | ForwardAdded(_)
                | ForwardRemoved(_)
                | Egress { .. }
                | Interface { .. }
                | ListenerAdded { .. }
                | ListenerRemoved { .. }
                | ListenerRebound { .. }
        )
    }

    /// Links, addresses or routes must change.
    pub fn needs_net(&self) -> bool {
        matches!(self, Change::Interface { .. })
    }

    /// The listeners step must run (listeners, route tables, backends). Also
    /// true for `admin.listen`, the admin TLS files and `[metrics]`: that
    /// step moves the admin and metrics sockets and swaps the admin
    /// certificate, live.
    pub fn needs_forwarder(&self) -> bool {
        use Change::*;
        if let Limit { key, .. } = self {
            // The forwarder counts the listeners' conn_max per source.
            return matches!(*key, "conn_max" | "ipv6_prefix");
        }
        !matches!(
            self,
            AdminAllow { .. }
                | SshPort { .. }
                | ForwardAdded(_)
                | ForwardRemoved(_)
                | Egress { .. }
                | Interface { .. }
                | Ha { .. }
        )
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Change::*;
        match self {
            AdminAllow { from, to } => {
                write!(f, "ruleset: admin.allow [{}] → [{}]", list(from), list(to))
            }
            AdminListen { from, to } => write!(f, "admin: listen {from} → {to}"),
            AdminTls => f.write_str("admin: TLS certificate changed"),
            SshPort { from, to } => write!(f, "ruleset: admin.ssh_port {from} → {to}"),
            Limit { key, from, to } => write!(f, "ruleset: limits.{key} {from} → {to}"),
            ForwardAdded(fw) => write!(f, "{}: added", forward(fw)),
            ForwardRemoved(fw) => write!(f, "{}: removed", forward(fw)),
            Egress { from, to } => {
                write!(
                    f,
                    "ruleset: egress.masquerade [{}] → [{}]",
                    list(from),
                    list(to)
                )
            }
            Interface {
                role,
                key: "port",
                from,
                ..
            } => {
                let what = if from == "none" { "added" } else { "removed" };
                write!(f, "interface {role}: {what}")
            }
            Interface {
                role,
                key,
                from,
                to,
            } => write!(f, "interface {role}: {key} {from} → {to}"),
            ListenerAdded { name, bind } => write!(f, "listener {name}: added on {bind}"),
            ListenerRemoved { name, bind } => write!(f, "listener {name}: removed (was on {bind})"),
            ListenerRebound { name, from, to } => write!(f, "listener {name}: bind {from} → {to}"),
            ListenerSettings {
                name,
                key,
                from,
                to,
            } => {
                write!(f, "listener {name}: {key} {from} → {to}")
            }
            Routes {
                listener,
                added,
                removed,
            } => write_routes(f, listener, added, removed),
            BackendAdded { name, servers } => {
                write!(f, "backend {name}: added with [{}]", list(servers))
            }
            BackendRemoved { name } => write!(f, "backend {name}: removed"),
            ServerAdded { backend, server } => {
                write!(f, "backend {backend}: server {server} added")
            }
            ServerRemoved { backend, server } => {
                write!(f, "backend {backend}: server {server} removed")
            }
            BackendSettings {
                backend,
                key,
                from,
                to,
            } => {
                write!(f, "backend {backend}: {key} {from} → {to}")
            }
            Appliance { key, from, to } => write!(f, "appliance: {key} {from} → {to}"),
            Metrics { from, to } => write!(f, "metrics: listen {} → {}", opt(from), opt(to)),
            Ha { keys } => write!(
                f,
                "ha: {} changed; the pair (VRRP, conntrackd, config sync) keeps the [ha] read at start until both daemons restart",
                keys.join(", ")
            ),
        }
    }
}

fn write_routes(
    f: &mut fmt::Formatter<'_>,
    listener: &str,
    added: &[String],
    removed: &[String],
) -> fmt::Result {
    write!(f, "routes of listener {listener}:")?;
    if added.is_empty() && removed.is_empty() {
        return f.write_str(" reordered");
    }
    for a in added {
        write!(f, " +{a}")?;
    }
    for r in removed {
        write!(f, " -{r}")?;
    }
    Ok(())
}

/// A forward as the change log names it: `forward tcp 2222 → 10.0.0.5:22`.
fn forward(fw: &Forward) -> String {
    let to = match fw.to_port {
        Some(p) => SocketAddr::new(fw.to_addr, p).to_string(),
        None => fw.to_addr.to_string(),
    };
    format!("forward {} {} → {to}", fw.proto, fw.ports)
}

/// Items joined with `, `.
pub(super) fn list<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(T::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A value, or `none`.
pub(super) fn opt<T: fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "none".to_string(), T::to_string)
}
