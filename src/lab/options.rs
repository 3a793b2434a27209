//! How to build a [`super::Topology`]: the builder's [`Options`], and the
//! Ethernet addresses and ports it gives the appliance. Pure.

use std::fmt;
use std::net::Ipv4Addr;

/// How to build a [`Topology`]. `Options::default()` is `parvis lab`'s.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Name the public port `ens4` and the internal port `ens3` (the
    /// default is the other way round), so tests catch code that trusts
    /// names. Single node only.
    pub swap_ports: bool,
    /// Give the appliance its addresses, default route and up links. When
    /// false its two ports exist (with their MACs) but stay down, with no
    /// address and no route: the daemon under test configures them.
    /// Single node only (the pair's nodes are always configured).
    pub configure_appliance: bool,
    /// Two appliances `a` and `b` side by side on both networks (bridges
    /// on both, Neutron-like port security, the floating IP on the public
    /// VIP) instead of one: `parvis lab --ha`.
    pub pair: bool,
    /// More client addresses, each a /32 on the client's `eth0` with a
    /// route back on the router (e.g. a source in a block list's range).
    pub client_extra: &'static [Ipv4Addr],
    /// IPv6 off in every namespace but the appliance's, so no stray
    /// neighbour discovery or MLD packet moves a counter under test.
    pub quiet_ipv6: bool,
    /// The appliance's port MACs, `[public, internal]`, when a test needs
    /// to know them before the lab exists (a config drive that names
    /// them). Single node only; the default is `fa:16:3e:<n>:<pid>:0x`.
    pub port_macs: Option<[Mac; 2]>,
    /// An address for the Kubernetes network's own router on the bridge
    /// `br0` (OpenStack's subnet gateway, e.g. `10.0.0.254`), pingable
    /// from the appliance.
    pub internal_gateway: Option<Ipv4Addr>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            swap_ports: false,
            configure_appliance: true,
            pair: false,
            client_extra: &[],
            quiet_ipv6: false,
            port_macs: None,
            internal_gateway: None,
        }
    }
}

impl Options {
    /// The pair's options (`parvis lab --ha`).
    pub fn pair() -> Options {
        Options {
            pair: true,
            ..Options::default()
        }
    }
}

/// An Ethernet address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mac(pub [u8; 6]);

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// One of the appliance's ports, as OpenStack would present it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// Interface name inside the appliance namespace (`ens3` or `ens4`).
    pub name: &'static str,
    /// Its MAC, `fa:16:3e:..`, deterministic per topology.
    pub mac: Mac,
}
