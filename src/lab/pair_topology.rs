//! The lab for an active/standby pair: two appliances `a` and `b` side by
//! side on both networks, behind the floating-IP NAT (203.0.113.10 → the
//! public VIP), with Neutron-like port security on both bridges. Does I/O
//! (`ip`, `nft`, `sysctl`).
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

use std::net::Ipv4Addr;
use std::sync::atomic::Ordering;

use super::ns::Ns;
use super::sweep::{sweep_leftovers, NS_PREFIX};
use super::topology::{
    attach_host, cidr, floating_ip_ruleset, forwarding, is_root, veth, wire_client, BUILD, COUNTER,
};
use super::*;

/// The public VIP: the floating IP's target.
pub const VIP_PUBLIC: Ipv4Addr = Ipv4Addr::new(192, 168, 10, 4);
/// The internal VIP: the Kubernetes nodes' gateway.
pub const VIP_INTERNAL: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// Public addresses of nodes `a` and `b`.
pub const NODE_PUBLIC: [Ipv4Addr; 2] = [
    Ipv4Addr::new(192, 168, 10, 5),
    Ipv4Addr::new(192, 168, 10, 6),
];
/// Internal addresses of nodes `a` and `b` (their `[[ha.node]]` addresses).
pub const NODE_INTERNAL: [Ipv4Addr; 2] = [Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 3)];
/// The nodes' names.
pub const NODE_NAMES: [&str; 2] = ["a", "b"];
/// The public port's name in each node.
pub const PUBLIC_PORT: &str = "ens3";
/// The internal port's name in each node.
pub const INTERNAL_PORT: &str = "ens4";

/// The pair's lab. Dropping it deletes every namespace it made.
#[derive(Debug)]
pub struct PairTopology {
    client: Ns,
    router: Ns,
    nodes: [Ns; 2],
    switch: Ns,
    ingress: [Ns; 2],
    server: Ns,
}

impl PairTopology {
    /// Sweeps leftovers of killed runs, then builds the pair's topology.
    pub fn build() -> Result<PairTopology, LabError> {
        if !is_root() {
            return Err(LabError::NotRoot);
        }
        let _serial = BUILD.lock().unwrap_or_else(|p| p.into_inner());
        sweep_leftovers()?;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let name = |role: &str| format!("{NS_PREFIX}{pid}-{n}-{role}");
        let topo = PairTopology {
            client: Ns::create(&name("client"))?,
            router: Ns::create(&name("router"))?,
            nodes: [Ns::create(&name("a"))?, Ns::create(&name("b"))?],
            switch: Ns::create(&name("k8s"))?,
            ingress: [
                Ns::create(&name("ingress1"))?,
                Ns::create(&name("ingress2"))?,
            ],
            server: Ns::create(&name("server"))?,
        };
        wire_client(&topo.client, &topo.router)?;
        topo.wire_router()?;
        topo.wire_switch()?;
        for i in 0..2 {
            topo.wire_node(i, n, pid)?;
        }
        topo.port_security()?;
        Ok(topo)
    }

    /// The client on the "internet".
    pub fn client(&self) -> &Ns {
        &self.client
    }
    /// The router: floating-IP NAT and the public bridge `brp`.
    pub fn router(&self) -> &Ns {
        &self.router
    }
    /// Node `i` (0 → `a`, 1 → `b`). Panics if `i > 1`, a programming error.
    pub fn node(&self, i: usize) -> &Ns {
        &self.nodes[i]
    }
    /// The namespace holding the Kubernetes network's bridge `br0`.
    pub fn switch(&self) -> &Ns {
        &self.switch
    }
    /// Ingress node `i`.
    pub fn ingress(&self, i: usize) -> &Ns {
        &self.ingress[i]
    }
    /// Both ingress nodes, in [`INGRESS`] order.
    pub fn ingresses(&self) -> &[Ns; 2] {
        &self.ingress
    }
    /// The plain internal host at [`SERVER`].
    pub fn server(&self) -> &Ns {
        &self.server
    }
    /// The bridge port (in the router) behind node `i`'s public port.
    pub fn public_bridge_port(i: usize) -> String {
        format!("pb-{}", NODE_NAMES[i])
    }
    /// The bridge port (in the switch) behind node `i`'s internal port.
    pub fn internal_bridge_port(i: usize) -> String {
        format!("sw-{}", NODE_NAMES[i])
    }

    fn wire_router(&self) -> Result<(), LabError> {
        let r = &self.router;
        r.ip(&["link", "add", "brp", "type", "bridge", "forward_delay", "0"])?;
        r.ip(&["addr", "add", &cidr(ROUTER_OUTSIDE), "dev", "rt-client"])?;
        r.ip(&["addr", "add", &cidr(ROUTER_PUBLIC), "dev", "brp"])?;
        r.ip(&["link", "set", "rt-client", "up"])?;
        r.ip(&["link", "set", "brp", "up"])?;
        forwarding(r)?;
        r.run_with_input(
            &["nft", "-f", "-"],
            floating_ip_ruleset(VIP_PUBLIC).as_bytes(),
        )?;
        Ok(())
    }

    fn wire_switch(&self) -> Result<(), LabError> {
        let s = &self.switch;
        s.ip(&["link", "add", "br0", "type", "bridge", "forward_delay", "0"])?;
        s.ip(&["link", "set", "br0", "up"])?;
        let hosts = [
            (&self.ingress[0], "sw-ingress1", INGRESS[0]),
            (&self.ingress[1], "sw-ingress2", INGRESS[1]),
            (&self.server, "sw-server", SERVER),
        ];
        for (host, port, addr) in hosts {
            attach_host(host, s, port, addr, VIP_INTERNAL)?;
        }
        Ok(())
    }

    fn wire_node(&self, i: usize, n: u32, pid: u32) -> Result<(), LabError> {
        let a = &self.nodes[i];
        let (pb, sw) = (Self::public_bridge_port(i), Self::internal_bridge_port(i));
        veth(a, PUBLIC_PORT, &self.router, &pb)?;
        veth(a, INTERNAL_PORT, &self.switch, &sw)?;
        let [.., p] = pid.to_be_bytes();
        let [.., k] = n.to_be_bytes();
        let node = u8::try_from(i).unwrap_or(0);
        for (port, last) in [(PUBLIC_PORT, 1u8), (INTERNAL_PORT, 2u8)] {
            let mac = Mac([0xfa, 0x16, 0x3e, k, p, 0x10 * (node + 1) + last]);
            a.ip(&["link", "set", port, "address", &mac.to_string()])?;
        }
        a.ip(&["addr", "add", &cidr(NODE_PUBLIC[i]), "dev", PUBLIC_PORT])?;
        a.ip(&["addr", "add", &cidr(NODE_INTERNAL[i]), "dev", INTERNAL_PORT])?;
        for port in [PUBLIC_PORT, INTERNAL_PORT] {
            a.ip(&["link", "set", port, "up"])?;
        }
        a.ip(&["route", "add", "default", "via", &ROUTER_PUBLIC.to_string()])?;
        forwarding(a)?;
        for (ns, bridge, port) in [(&self.router, "brp", &pb), (&self.switch, "br0", &sw)] {
            ns.ip(&["link", "set", port, "master", bridge])?;
            ns.ip(&["link", "set", port, "up"])?;
        }
        Ok(())
    }

    fn port_security(&self) -> Result<(), LabError> {
        let public: Vec<(String, Vec<Ipv4Addr>)> = (0..2)
            .map(|i| {
                (
                    Self::public_bridge_port(i),
                    vec![NODE_PUBLIC[i], VIP_PUBLIC],
                )
            })
            .collect();
        let mut internal: Vec<(String, Vec<Ipv4Addr>)> = (0..2)
            .map(|i| {
                (
                    Self::internal_bridge_port(i),
                    vec![NODE_INTERNAL[i], VIP_INTERNAL],
                )
            })
            .collect();
        internal.push(("sw-ingress1".into(), vec![INGRESS[0]]));
        internal.push(("sw-ingress2".into(), vec![INGRESS[1]]));
        internal.push(("sw-server".into(), vec![SERVER]));
        self.router.run_with_input(
            &["nft", "-f", "-"],
            port_security_ruleset(&public).as_bytes(),
        )?;
        self.switch.run_with_input(
            &["nft", "-f", "-"],
            port_security_ruleset(&internal).as_bytes(),
        )?;
        Ok(())
    }
}

/// The bridge's port security: per port, IP and ARP only from its allowed
/// addresses; VRRP multicast dropped everywhere.
pub fn port_security_ruleset(ports: &[(String, Vec<Ipv4Addr>)]) -> String {
    let mut rules = String::from("\t\tip daddr 224.0.0.18 drop\n");
    for (port, allowed) in ports {
        let set = allowed
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        rules.push_str(&format!(
            "\t\tiifname \"{port}\" ether type ip ip saddr != {{ {set} }} drop\n\
             \t\tiifname \"{port}\" ether type arp arp saddr ip != {{ {set} }} drop\n"
        ));
    }
    format!(
        "table bridge pv-port-security {{\n\
         \tchain prerouting {{\n\
         \t\ttype filter hook prerouting priority -200; policy accept;\n\
         {rules}\
         \t}}\n\
         }}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_security_allows_own_address_and_vip_and_drops_vrrp_multicast() {
        let r = port_security_ruleset(&[("sw-a".into(), vec![NODE_INTERNAL[0], VIP_INTERNAL])]);
        assert!(r.contains("ip daddr 224.0.0.18 drop\n"), "{r}");
        assert!(
            r.contains("iifname \"sw-a\" ether type ip ip saddr != { 10.0.0.2, 10.0.0.1 } drop\n"),
            "{r}"
        );
        assert!(
            r.contains(
                "iifname \"sw-a\" ether type arp arp saddr ip != { 10.0.0.2, 10.0.0.1 } drop\n"
            ),
            "{r}"
        );
    }

    #[test]
    fn floating_ip_points_at_the_public_vip() {
        assert!(floating_ip_ruleset(VIP_PUBLIC)
            .contains("ip daddr 203.0.113.10 dnat to 192.168.10.4\n"));
    }
}
