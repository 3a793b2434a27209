//! The demo ingress: a small PROXY-aware HTTP and HTTPS backend that tells
//! each client what it saw (client address, PROXY version, SNI, authority).
//!
//! Used by `parvis lab` and by the integration tests as a backend behind the
//! forwarder. [`serve`] does I/O (sockets, TLS); the submodules [`header`]
//! (PROXY header reading, over any reader) and [`http`] (request parsing and
//! response formatting) are pure and unit-tested.

pub mod header;
pub mod http;
mod prefixed;
mod server;

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

pub use server::serve;

/// What the demo ingress does with PROXY protocol headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProxyMode {
    /// A connection without a v1 or v2 header is closed.
    Required,
    /// A header is used when present.
    #[default]
    Optional,
    /// No header is looked for; the bytes go straight to TLS/HTTP.
    Off,
}

impl FromStr for ProxyMode {
    type Err = DemoError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "required" => Ok(ProxyMode::Required),
            "optional" => Ok(ProxyMode::Optional),
            "off" => Ok(ProxyMode::Off),
            other => Err(DemoError::ProxyMode(other.to_owned())),
        }
    }
}

impl fmt::Display for ProxyMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProxyMode::Required => "required",
            ProxyMode::Optional => "optional",
            ProxyMode::Off => "off",
        })
    }
}

/// How to run the demo ingress (`parvis demo-ingress ...`); the doc
/// comments are the command line's help.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct Options {
    /// Name reported in every answer.
    #[arg(long)]
    pub name: String,
    /// Terminate TLS here (self-signed certificate).
    #[arg(long, value_name = "ADDR:PORT")]
    pub tls: Option<SocketAddr>,
    /// Serve plain HTTP/1.1 here.
    #[arg(long, value_name = "ADDR:PORT")]
    pub http: Option<SocketAddr>,
    /// PROXY header handling: required, optional or off.
    #[arg(long, default_value = "optional")]
    pub proxy: ProxyMode,
    /// Certificate host names, comma separated.
    #[arg(long, value_delimiter = ',')]
    pub hosts: Vec<String>,
}

impl Options {
    /// The command-line arguments (after the program name) that reproduce
    /// these options, starting with the `demo-ingress` subcommand.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec!["demo-ingress".into(), "--name".into(), self.name.clone()];
        if let Some(tls) = self.tls {
            args.extend(["--tls".into(), tls.to_string()]);
        }
        if let Some(http) = self.http {
            args.extend(["--http".into(), http.to_string()]);
        }
        args.extend(["--proxy".into(), self.proxy.to_string()]);
        if !self.hosts.is_empty() {
            args.extend(["--hosts".into(), self.hosts.join(",")]);
        }
        args
    }
}

/// The line printed on stdout once every listener is bound.
pub const READY_LINE: &str = "demo-ingress ready";

/// What can stop the demo ingress as a whole (one bad connection never does).
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// `--proxy` was not `required`, `optional` or `off`.
    #[error("unknown PROXY mode `{0}` (expected required, optional or off)")]
    ProxyMode(String),
    /// Neither `--tls` nor `--http` was given.
    #[error("nothing to serve: give --tls and/or --http")]
    NoListener,
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The self-signed certificate could not be made.
    #[error("cannot make the certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// rustls refused the certificate or configuration.
    #[error("TLS setup: {0}")]
    Tls(#[from] rustls::Error),
    /// Writing the ready line failed.
    #[error("cannot write to stdout: {0}")]
    Stdout(std::io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_round_trip_to_args() {
        let opts = Options {
            name: "ingress1".into(),
            tls: Some(SocketAddr::from(([10, 0, 0, 11], 443))),
            http: None,
            proxy: ProxyMode::Required,
            hosts: vec!["a.example".into(), "b.example".into()],
        };
        assert_eq!(
            opts.to_args().join(" "),
            "demo-ingress --name ingress1 --tls 10.0.0.11:443 --proxy required --hosts a.example,b.example"
        );
        assert_eq!("off".parse::<ProxyMode>().ok(), Some(ProxyMode::Off));
        assert!("v2".parse::<ProxyMode>().is_err());
    }
}
