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

pub mod app;
pub mod config;
pub mod firewall;
pub mod forwarder;
pub mod net;
