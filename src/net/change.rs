//! `NetChange`: one step of a plan, printed in `ip` terms. Pure.

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

use crate::config::{Cidr, IfAddr};

/// One change to a link, an address or a route. `Display` gives the `ip`
/// command that does the same thing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum NetChange {
    /// `ip link set dev DEV up`
    LinkSetUp {
        /// Interface name.
        dev: String,
        /// Interface index.
        index: u32,
    },
    /// `ip link set dev DEV mtu MTU`
    LinkSetMtu {
        /// Interface name.
        dev: String,
        /// Interface index.
        index: u32,
        /// New MTU.
        mtu: u32,
    },
    /// `ip addr add ADDR dev DEV`
    AddrAdd {
        /// Interface name.
        dev: String,
        /// Interface index.
        index: u32,
        /// Address with prefix.
        addr: IfAddr,
    },
    /// `ip addr del ADDR dev DEV`
    AddrDel {
        /// Interface name.
        dev: String,
        /// Interface index.
        index: u32,
        /// Address with prefix.
        addr: IfAddr,
    },
    /// `ip route add TO via VIA dev DEV`: no route to `to` exists yet.
    RouteAdd {
        /// Interface name.
        dev: String,
        /// Interface index.
        index: u32,
        /// Destination; prefix length 0 is the default route.
        to: Cidr,
        /// Gateway.
        via: IpAddr,
    },
    /// `ip route replace TO via VIA dev DEV`: a route to `to` exists, but
    /// through another gateway or device.
    RouteReplace {
        /// Interface name.
        dev: String,
        /// Interface index.
        index: u32,
        /// Destination; prefix length 0 is the default route.
        to: Cidr,
        /// Gateway.
        via: IpAddr,
    },
}

impl NetChange {
    /// The interface the change applies to.
    pub fn dev(&self) -> &str {
        match self {
            NetChange::LinkSetUp { dev, .. }
            | NetChange::LinkSetMtu { dev, .. }
            | NetChange::AddrAdd { dev, .. }
            | NetChange::AddrDel { dev, .. }
            | NetChange::RouteAdd { dev, .. }
            | NetChange::RouteReplace { dev, .. } => dev,
        }
    }
}

/// A destination as `ip route` writes it: `default` for a zero prefix.
struct Dest(Cidr);

impl fmt::Display for Dest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.prefix_len() == 0 {
            f.write_str("default")
        } else {
            write!(f, "{}", self.0.net())
        }
    }
}

impl fmt::Display for NetChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetChange::LinkSetUp { dev, .. } => write!(f, "ip link set dev {dev} up"),
            NetChange::LinkSetMtu { dev, mtu, .. } => {
                write!(f, "ip link set dev {dev} mtu {mtu}")
            }
            NetChange::AddrAdd { dev, addr, .. } => write!(f, "ip addr add {addr} dev {dev}"),
            NetChange::AddrDel { dev, addr, .. } => write!(f, "ip addr del {addr} dev {dev}"),
            NetChange::RouteAdd { dev, to, via, .. } => {
                write!(f, "ip route add {} via {via} dev {dev}", Dest(*to))
            }
            NetChange::RouteReplace { dev, to, via, .. } => {
                write!(f, "ip route replace {} via {via} dev {dev}", Dest(*to))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Cidr {
        s.parse().expect("test cidr")
    }

    #[test]
    fn display_in_ip_terms() {
        let dev = || "ens4".to_string();
        let cases = [
            (
                NetChange::LinkSetUp {
                    dev: dev(),
                    index: 3,
                },
                "ip link set dev ens4 up",
            ),
            (
                NetChange::LinkSetMtu {
                    dev: dev(),
                    index: 3,
                    mtu: 1450,
                },
                "ip link set dev ens4 mtu 1450",
            ),
            (
                NetChange::AddrAdd {
                    dev: dev(),
                    index: 3,
                    addr: "10.0.0.1/24".parse().expect("addr"),
                },
                "ip addr add 10.0.0.1/24 dev ens4",
            ),
            (
                NetChange::RouteAdd {
                    dev: "ens3".into(),
                    index: 2,
                    to: cidr("0.0.0.0/0"),
                    via: "192.168.10.1".parse().expect("ip"),
                },
                "ip route add default via 192.168.10.1 dev ens3",
            ),
            (
                NetChange::RouteReplace {
                    dev: dev(),
                    index: 3,
                    to: cidr("10.42.0.0/16"),
                    via: "10.0.0.254".parse().expect("ip"),
                },
                "ip route replace 10.42.0.0/16 via 10.0.0.254 dev ens4",
            ),
            (
                NetChange::RouteAdd {
                    dev: dev(),
                    index: 3,
                    to: cidr("10.9.9.9/32"),
                    via: "10.0.0.254".parse().expect("ip"),
                },
                "ip route add 10.9.9.9/32 via 10.0.0.254 dev ens4",
            ),
        ];
        for (change, text) in cases {
            assert_eq!(change.to_string(), text);
        }
    }
}
