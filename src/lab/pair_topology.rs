//! The lab for an active/standby pair: [`super::Topology`] built with
//! [`Options::pair`], under the name the HA tests and `parvis lab --ha`
//! know. Two appliances `a` and `b` side by side on both networks, behind
//! the floating-IP NAT (203.0.113.10 → the public VIP), with Neutron-like
//! port security on both bridges. Does I/O (through the builder).
//!
//! ```text
//!  client ── router ── brp ─┬─ a  ens3 192.168.10.5  ens4 10.0.0.2 ─┬─ br0 ─┬─ ingress1 .11
//!            203.0.113.10   │                                       │       ├─ ingress2 .12
//!            → 192.168.10.4 └─ b  ens3 192.168.10.6  ens4 10.0.0.3 ─┘       └─ server   .20
//!                           VIPs: 192.168.10.4 (public), 10.0.0.1 (internal, the gateway)
//! ```
//!
//! Port security, as Neutron's allowed-address-pairs give it: each bridge
//! port may only send IP and ARP from its own address, the appliances' ports
//! also from the VIP of that network; VRRP multicast (224.0.0.18) is
//! dropped, so the pair must speak unicast.

use std::ops::Deref;

pub use super::wire::port_security_ruleset;
use super::{LabError, Options, Topology};
pub use super::{
    INTERNAL_PORT, NODE_INTERNAL, NODE_NAMES, NODE_PUBLIC, PUBLIC_PORT, VIP_INTERNAL, VIP_PUBLIC,
};

/// The pair's lab: a [`Topology`] with two nodes. Dropping it deletes
/// every namespace it made.
#[derive(Debug)]
pub struct PairTopology(Topology);

impl PairTopology {
    /// Sweeps leftovers of killed runs, then builds the pair's topology.
    pub fn build() -> Result<PairTopology, LabError> {
        Topology::build(Options::pair()).map(PairTopology)
    }

    /// The bridge port (in the router) behind node `i`'s public port.
    pub fn public_bridge_port(i: usize) -> String {
        Topology::public_bridge_port(i)
    }

    /// The bridge port (in the switch) behind node `i`'s internal port.
    pub fn internal_bridge_port(i: usize) -> String {
        Topology::internal_bridge_port(i)
    }

    /// The lab topology itself.
    pub fn topology(&self) -> &Topology {
        &self.0
    }
}

impl Deref for PairTopology {
    type Target = Topology;

    fn deref(&self) -> &Topology {
        &self.0
    }
}
