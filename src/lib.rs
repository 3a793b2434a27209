//! # parvis — the edge in front of the parish sites
//!
//! A router-firewall appliance for OpenStack: an nftables data path, an
//! SNI-routing TLS-passthrough forwarder that speaks the PROXY protocol, and
//! an admin UI. This crate is one library and one binary (`src/main.rs`).
//!
//! # Layout
//! - [`config`]: the operator's TOML (`FileConfig`) → [`config::validate`] →
//!   typed [`config::Config`]. Pure.
//! - [`api`]: the seam between the daemon and its operators: the
//!   [`api::Control`] trait and the view types. Pure.
//! - [`admin`]: the HTTPS admin UI and JSON API, and `/metrics`. I/O.
//! - [`control`]: the control socket and the CLI client. I/O.
//! - [`metrics`]: Prometheus text from the views. Pure.
//! - [`lab`]: network-namespace topology shared by `parvis lab` and the
//!   integration tests. Does I/O (`ip`, namespaces).
//! - [`demo`]: the PROXY-aware demo ingress (`parvis demo-ingress`), a TLS and
//!   HTTP backend that reports what it saw. Does I/O (sockets); its header
//!   and HTTP parsing are pure.

pub mod admin;
pub mod api;
pub mod config;
pub mod control;
pub mod demo;
pub mod firewall;
pub mod forwarder;
pub mod lab;
pub mod metrics;
pub mod net;
