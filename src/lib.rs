//! # parvis — the edge in front of the parish sites
//!
//! A router-firewall appliance for OpenStack: an nftables data path, an
//! SNI-routing TLS-passthrough forwarder that speaks the PROXY protocol, and
//! an admin UI. This crate is one library and one binary (`src/main.rs`).
//! The cargo feature `lab` (on by default) adds the developer's test bench,
//! the `lab` and `demo` modules and their subcommands; the appliance's
//! image is built without it.
//!
//! # Layout
//! From the bottom up; a module uses only those above it in this list
//! (`scripts/layers.py` checks the arrows and that no two files import
//! each other).
//! - [`config`]: the operator's TOML (`FileConfig`) → [`config::validate`] →
//!   typed [`config::Config`]. Pure.
//! - [`store`]: the config history in `state_dir/config/`: numbered
//!   versions, the `current` pointer, the pending record; atomic, durable
//!   writes. Does I/O (files).
//! - [`firewall`]: [`firewall::render`] the nftables ruleset (pure) and
//!   apply it in one `nft` transaction; runtime bans and counters. I/O.
//! - [`net`]: owning the two ports. Role resolution and [`net::plan`] are
//!   pure; [`net::netlink`] and [`net::watch`] do netlink I/O;
//!   [`net::metadata`] reads the OpenStack config drive or metadata service.
//! - [`forwarder`]: SNI/Host routing TLS passthrough with PROXY headers.
//!   Pure parsers and tables; listeners, relay and health checks do I/O.
//! - [`change`]: [`change::diff`] of two configs (pure) and the
//!   [`change::Changer`]: apply as a transaction with undo, confirm or roll
//!   back, restore at startup. Does I/O through the store and the
//!   [`change::Steps`] the daemon implements.
//! - [`sync`]: the HA pair's config sync: mutual TLS with a certificate
//!   derived from `ha.key`, replicated applies with the same version
//!   numbers (through [`change::Replication`]), catching up, bans carried
//!   across. [`sync::plan`], [`sync::redact`] and the key derivation are
//!   pure; the rest does I/O.
//! - [`api`]: the seam between the daemon and its operators, on `config`
//!   only: the [`api::Control`] trait and the view types, and their
//!   renderings: [`api::json`] (the `/api/v1` router that the admin port
//!   and the control socket both serve), [`api::metrics`] (Prometheus
//!   text), [`api::text`] (figures for the UI and the CLI). Pure.
//! - [`ha`]: the pair's VRRP side: renders and supervises keepalived and
//!   conntrackd, reads keepalived's FIFO, the health facts, planned
//!   handover; its views are `api`'s. Rendering is pure; the rest does I/O.
//! - [`admin`]: the HTTPS admin UI (pages, login, sessions) serving
//!   [`api::json`], and `/metrics`; sees the daemon through `api` only. I/O.
//! - [`control`]: the control socket and the CLI's commands and tables;
//!   sees the daemon through `api` only. I/O.
//! - [`daemon`]: `parvis serve`: first config, restore, background tasks,
//!   signals; implements [`api::Control`] and [`change::Steps`], converting
//!   the change manager's and the store's types to views. The one module
//!   that uses all the ones above. I/O.
//! - `demo` (feature `lab`): the PROXY-aware demo ingress (`parvis
//!   demo-ingress`), a TLS and HTTP backend that reports what it saw. Does
//!   I/O (sockets); its header and HTTP parsing are pure.
//! - `lab` (feature `lab`): the test bench. One builder
//!   (`lab::Topology::build` with `lab::Options`: the single appliance or
//!   the HA pair, and each test's variant), the one way to start `parvis
//!   serve` there (`lab::Serve`), `parvis lab [--ha [--neutron]]`
//!   (`lab::run`), and the real peers. Every integration test builds its
//!   namespaces with it; a test that needs something the lab lacks adds a
//!   builder option or a peer here. Does I/O (`ip`, namespaces).
//! - [`firstboot`]: what the image's first-boot script asks of parvis (the
//!   networkd files, the state directory it may hand over); uses `config`
//!   and `net`. I/O.
//!
//! `src/main.rs` is the command line: one enum of subcommands, each a call
//! into the library.

pub mod admin;
pub mod api;
pub mod change;
pub mod config;
pub mod control;
pub mod daemon;
#[cfg(feature = "lab")]
pub mod demo;
pub mod firewall;
pub mod firstboot;
pub mod forwarder;
pub mod ha;
#[cfg(feature = "lab")]
pub mod lab;
pub mod net;
pub mod store;
pub mod sync;
