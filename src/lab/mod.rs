//! The network-namespace lab: a throwaway OpenStack-like topology.
//!
//! Does I/O: it runs `ip`, `nft` and `sysctl`, creates and deletes network
//! namespaces, and starts processes inside them. Used by `parvis lab` and by
//! every integration test.
//!
//! ```text
//!  client ──── router ──────────── appliance ──── k8s (bridge) ─┬─ ingress1
//!  198.51.100.10/24   192.168.10.1/24   ens3 192.168.10.5/24    ├─ ingress2
//!  (.11, .12 extra)   1:1 NAT 203.0.113.10  ens4 10.0.0.1/24    └─ server
//!                      ↔ 192.168.10.5
//! ```
//!
//! One builder, [`Topology::build`], makes every layout from [`Options`]:
//! the single appliance above (ports swapped or left unconfigured, extra
//! client addresses, IPv6 quiet) or the HA pair ([`Options::pair`], drawn in
//! [`pair_topology`]). One launcher, [`run`] with a [`LabKind`], runs
//! `parvis lab`, `parvis lab --ha` and `parvis lab --ha --neutron`; one
//! starter, [`Serve`], starts every `parvis serve`. Peers for tests that
//! need real servers: the demo ingresses ([`start_ingresses`]), the TCP
//! echo ([`echo`]), the OpenStack metadata service ([`metadata`]), HAProxy reporting what parvis sent ([`reporter`]),
//! HAProxy, nginx and Apache as the operator runs them ([`receiver`]).
//!
//! Where Apache httpd is installed, `parvis lab` also runs it on ingress1
//! port 8443 behind `civi.example.org` (`civi.rs`, configured from
//! `docs/ingress/apache.conf` by [`receiver`]).
//!
//! Every namespace is named `pv-<pid>-<n>-<role>` and deleted when its
//! [`Ns`] is dropped (also while unwinding from a panic). Namespaces left
//! behind by a killed process are swept when the next [`Topology`] is built.

pub mod appliance;
mod civi;
mod demos;
pub mod echo;
pub mod metadata;
pub mod neutron;
mod neutron_nat;
pub mod neutron_pair;
pub mod neutron_tls;
mod ns;
mod options;
pub mod pair;
pub mod pair_topology;
pub mod receiver;
pub mod reporter;
mod run;
mod serve;
mod sweep;
mod topology;
mod wire;

use std::net::Ipv4Addr;

pub use civi::{civi_addr, civi_config, start_civi, CIVI_HOST, CIVI_PORT};
pub use demos::{start_demo, start_ingresses, DemoHandles, DEMO_HOSTS};
pub use ns::{ChildGuard, Ns};
pub use options::{Mac, Options, Port};
pub use pair_topology::PairTopology;
pub use run::{picture, run, LabKind};
pub use serve::{write_config, Daemon, Serve};
pub use sweep::{parse_owner_pid, sweep_leftovers, NS_PREFIX};
pub use topology::Topology;

/// Prefix length of every lab subnet.
pub const PREFIX_LEN: u8 = 24;
/// The client's main address on the "internet".
pub const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
/// A second client address on the same link (use `curl --interface`).
pub const CLIENT_2: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 11);
/// A third client address on the same link (use `curl --interface`).
pub const CLIENT_3: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 12);
/// The router's address on the client link: the client's default gateway.
pub const ROUTER_OUTSIDE: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// The floating IP, NATed 1:1 by the router to [`APPLIANCE_PUBLIC`].
pub const FLOATING_IP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);
/// The router's address on the floating-IP network: the appliance's gateway.
pub const ROUTER_PUBLIC: Ipv4Addr = Ipv4Addr::new(192, 168, 10, 1);
/// The appliance's public port address.
pub const APPLIANCE_PUBLIC: Ipv4Addr = Ipv4Addr::new(192, 168, 10, 5);
/// The appliance's internal port address: the Kubernetes nodes' gateway.
pub const APPLIANCE_INTERNAL: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// The two ingress nodes, `ingress1` and `ingress2`.
pub const INGRESS: [Ipv4Addr; 2] = [Ipv4Addr::new(10, 0, 0, 11), Ipv4Addr::new(10, 0, 0, 12)];
/// A plain host on the internal network, target of port forwards.
pub const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 20);

/// The pair's public VIP: the floating IP's target.
pub const VIP_PUBLIC: Ipv4Addr = Ipv4Addr::new(192, 168, 10, 4);
/// The pair's internal VIP: the Kubernetes nodes' gateway (the single
/// appliance's [`APPLIANCE_INTERNAL`]).
pub const VIP_INTERNAL: Ipv4Addr = APPLIANCE_INTERNAL;
/// Public addresses of the pair's nodes `a` and `b`.
pub const NODE_PUBLIC: [Ipv4Addr; 2] = [
    Ipv4Addr::new(192, 168, 10, 5),
    Ipv4Addr::new(192, 168, 10, 6),
];
/// Internal addresses of nodes `a` and `b` (their `[[ha.node]]` addresses).
pub const NODE_INTERNAL: [Ipv4Addr; 2] = [Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 3)];
/// The pair's node names (and their namespaces' roles).
pub const NODE_NAMES: [&str; 2] = ["a", "b"];
/// The public port's name in each node of the pair.
pub const PUBLIC_PORT: &str = "ens3";
/// The internal port's name in each node of the pair.
pub const INTERNAL_PORT: &str = "ens4";

/// What went wrong while building, using or removing the lab.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// A command could not be started at all (missing binary, no permission).
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A command ran and failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        /// The command line.
        command: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// What it wrote on stderr, trimmed.
        stderr: String,
    },
    /// A started process did not become ready.
    #[error("`{command}` did not become ready: {reason}")]
    NotReady {
        /// The command line.
        command: String,
        /// Why we gave up.
        reason: String,
    },
    /// The current executable could not be found (to re-exec `demo-ingress`).
    #[error("cannot find the current executable: {0}")]
    CurrentExe(std::io::Error),
    /// The lab needs root (network namespaces).
    #[error("the lab needs root (network namespaces, nftables)")]
    NotRoot,
}
