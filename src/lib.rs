//! # parvis — the edge in front of the parish sites
//!
//! A router-firewall appliance for OpenStack: an nftables data path, an
//! SNI-routing TLS-passthrough forwarder that speaks the PROXY protocol, and
//! an admin UI. This crate is one library and one binary (`src/main.rs`).
//!
//! # Layout
//! - [`config`]: the operator's TOML (`FileConfig`) → [`config::validate`] →
//!   typed [`config::Config`]. Pure.
//! - [`forwarder`]: SNI/Host routing TLS passthrough with PROXY headers.
//!   Pure parsers and tables; listeners, relay and health checks do I/O.
//! - [`app`]: the `serve` daemon wiring, signals and reload. Does I/O.
//! - [`lab`]: network-namespace topology shared by `parvis lab` and the
//!   integration tests. Does I/O (`ip`, namespaces).
//! - [`demo`]: the PROXY-aware demo ingress (`parvis demo-ingress`), a TLS and
//!   HTTP backend that reports what it saw. Does I/O (sockets); its header
//!   and HTTP parsing are pure.

pub mod app;
pub mod config;
pub mod demo;
pub mod firewall;
pub mod forwarder;
pub mod lab;
pub mod net;
