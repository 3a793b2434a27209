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
//! - [`api`]: the seam between the daemon and its operators: the
//!   [`api::Control`] trait and the view types. Pure.
//! - [`admin`]: the HTTPS admin UI and JSON API, and `/metrics`. I/O.
//! - [`control`]: the control socket and the CLI client. I/O.
//! - [`metrics`]: Prometheus text from the views. Pure.
//! - [`store`]: the config history in `state_dir/config/`: numbered
//!   versions, the `current` pointer, the pending record; atomic, durable
//!   writes. Does I/O (files).
//! - [`change`]: [`change::diff`] of two configs (pure) and the
//!   [`change::Changer`]: apply as a transaction with undo, confirm or roll
//!   back, restore at startup. Does I/O through the store and the
//!   [`change::Steps`] the daemon implements.
//! - [`lab`]: network-namespace topology shared by `parvis lab` and the
//!   integration tests. Does I/O (`ip`, namespaces).
//! - [`demo`]: the PROXY-aware demo ingress (`parvis demo-ingress`), a TLS and
//!   HTTP backend that reports what it saw. Does I/O (sockets); its header
//!   and HTTP parsing are pure.
//! - [`daemon`]: `parvis serve`: first config, restore, background tasks,
//!   signals; implements [`api::Control`] and [`change::Steps`]. I/O.
//! - [`sync`]: the HA pair's config sync: mutual TLS with a certificate
//!   derived from `ha.key`, replicated applies with the same version
//!   numbers, catching up, bans carried across. [`sync::plan`],
//!   [`sync::redact`] and the key derivation are pure; the rest does I/O.
//! - [`net`]: owning the two ports. Role resolution and [`net::plan`] are
//!   pure; [`net::netlink`] and [`net::watch`] do netlink I/O;
//!   [`net::metadata`] reads the OpenStack config drive or metadata service.

pub mod admin;
pub mod api;
pub mod change;
pub mod config;
pub mod control;
pub mod daemon;
pub mod demo;
pub mod firewall;
pub mod forwarder;
pub mod lab;
pub mod metrics;
pub mod net;
pub mod store;
pub mod sync;
