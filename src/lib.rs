//! # parvis — the edge in front of the parish sites
//!
//! A router-firewall appliance for OpenStack: an nftables data path, an
//! SNI-routing TLS-passthrough forwarder that speaks the PROXY protocol, and
//! an admin UI. This crate is one library and one binary (`src/main.rs`).
//!
//! # Layout
//! - [`config`]: the operator's TOML (`FileConfig`) → [`config::validate`] →
//!   typed [`config::Config`]. Pure.
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
//! - [`net`]: owning the two ports. Role resolution and [`net::plan`] are
//!   pure; [`net::netlink`] and [`net::watch`] do netlink I/O;
//!   [`net::metadata`] reads the OpenStack config drive or metadata service.

pub mod change;
pub mod config;
pub mod demo;
pub mod firewall;
pub mod forwarder;
pub mod lab;
pub mod net;
pub mod store;
