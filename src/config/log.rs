//! `[log]`: the connection log's remote syslog collector and its memory
//! ring. Pure.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::checker::Checker;

/// Lines the admin UI keeps in memory by default.
pub const RING_DEFAULT: usize = 1000;
const RING_MAX: usize = 100_000;

/// `[log]` as written.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileLog {
    /// `ADDR:PORT` of an RFC 5424 syslog collector over TCP.
    pub remote: Option<String>,
    /// TLS to the collector (RFC 5425).
    pub tls: Option<bool>,
    /// PEM CA bundle that signs the collector's certificate.
    pub ca: Option<String>,
    /// Name in the collector's certificate (default: its address).
    pub server_name: Option<String>,
    /// Finished connections kept in memory for the admin UI.
    pub ring: Option<usize>,
}

/// `[log]`, typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Log {
    /// The syslog collector, if any.
    pub remote: Option<Remote>,
    /// Finished connections kept in memory (default 1000).
    pub ring: usize,
}

impl Default for Log {
    fn default() -> Self {
        Log {
            remote: None,
            ring: RING_DEFAULT,
        }
    }
}

/// A remote syslog collector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Remote {
    /// Its address.
    pub addr: SocketAddr,
    /// TLS: the CA file and the name to check, else plain TCP.
    pub tls: Option<RemoteTls>,
}

/// TLS to the collector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemoteTls {
    /// PEM CA bundle.
    pub ca: PathBuf,
    /// The name (or address) its certificate must carry.
    pub server_name: String,
}

/// Types `[log]`.
pub(crate) fn log(c: &mut Checker, l: Option<&FileLog>) -> Log {
    let Some(l) = l else {
        return Log::default();
    };
    let ring = l.ring.unwrap_or(RING_DEFAULT);
    if ring > RING_MAX {
        c.err("log.ring", format!("{ring} is over {RING_MAX} lines"));
    }
    let addr = l.remote.as_deref().and_then(|r| c.addr("log.remote", r));
    let tls = l.tls.unwrap_or(false);
    if l.remote.is_none() {
        for (set, key) in [(l.tls.is_some(), "tls"), (l.ca.is_some(), "ca")] {
            if set {
                c.err(
                    format!("log.{key}"),
                    "needs `remote` (the collector's ADDR:PORT)",
                );
            }
        }
    }
    if !tls && (l.ca.is_some() || l.server_name.is_some()) {
        c.err("log.tls", "`ca` and `server_name` need `tls = true`");
    }
    let ca = match (&l.ca, tls) {
        (Some(ca), _) if !ca.starts_with('/') => {
            c.err("log.ca", format!("{ca:?} is not an absolute path"));
            None
        }
        (Some(ca), _) => Some(PathBuf::from(ca)),
        (None, true) if l.remote.is_some() => {
            c.err(
                "log.ca",
                "missing: `tls = true` needs the CA file that signs the collector's certificate",
            );
            None
        }
        (None, _) => None,
    };
    let remote = addr.map(|addr| Remote {
        addr,
        tls: ca.filter(|_| tls).map(|ca| RemoteTls {
            ca,
            server_name: l
                .server_name
                .clone()
                .unwrap_or_else(|| addr.ip().to_string()),
        }),
    });
    Log {
        remote,
        ring: ring.clamp(1, RING_MAX),
    }
}

#[cfg(test)]
mod tests {
    fn problems(text: &str) -> Vec<String> {
        match crate::config::parse(text) {
            Ok(_) => Vec::new(),
            Err(e) => e
                .problems
                .iter()
                .map(|p| format!("{}: {}", p.path, p.message))
                .collect(),
        }
    }

    const BASE: &str = "[[forward]]\nproto = \"tcp\"\nport = 2222\nto = \"10.0.0.20:22\"\n";

    #[test]
    fn remote_tls_and_mistakes() {
        let ok = crate::config::parse(&format!(
            "{BASE}[log]\nremote = \"10.0.0.30:6514\"\ntls = true\nca = \"/etc/parvis/ca.pem\"\n"
        ))
        .expect("valid");
        let remote = ok.log.remote.expect("a remote");
        assert_eq!(remote.addr.to_string(), "10.0.0.30:6514");
        assert_eq!(remote.tls.expect("tls").server_name, "10.0.0.30");
        let bad = problems(&format!("{BASE}[log]\nremote = \"nowhere\"\ntls = true\n"));
        assert!(bad.iter().any(|p| p.starts_with("log.remote: ")), "{bad:?}");
        assert!(
            bad.iter().any(|p| p.starts_with("log.ca: missing")),
            "{bad:?}"
        );
        let bad = problems(&format!("{BASE}[log]\nca = \"ca.pem\"\n"));
        assert!(
            bad.iter().any(|p| p.starts_with("log.ca: needs `remote`")),
            "{bad:?}"
        );
        assert!(bad.iter().any(|p| p.starts_with("log.tls: ")), "{bad:?}");
        let bad = problems(&format!("{BASE}[log]\nring = 999999999\n"));
        assert!(bad.iter().any(|p| p.starts_with("log.ring: ")), "{bad:?}");
    }
}
