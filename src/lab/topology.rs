//! The lab builder: one [`Topology`] for a single appliance or an
//! active/standby pair, chosen by [`Options`]. Namespaces, veth pairs,
//! addresses, routes, the floating-IP NAT and (for the pair) the bridges'
//! port security.
//!
//! Does I/O: every step is an `ip`, `nft` or `sysctl` command.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use super::ns::Ns;
use super::sweep::{sweep_leftovers, NS_PREFIX};
use super::wire::{
    attach_host, bridge, cidr, enslave, floating_ip_ruleset, forwarding, is_root, no_ipv6,
    port_security_ruleset, veth, wire_client,
};
use super::*;

/// Topologies built by this process so far: the `<n>` in `pv-<pid>-<n>-...`.
static COUNTER: AtomicU32 = AtomicU32::new(0);
/// Serialises builds in one process: `ip netns add` racing with itself on a
/// fresh `/run/netns` mount, and a sweep racing with a build, both misbehave.
static BUILD: Mutex<()> = Mutex::new(());

/// The whole lab. Dropping it deletes every namespace it made.
#[derive(Debug)]
pub struct Topology {
    client: Ns,
    router: Ns,
    nodes: Vec<Ns>,
    switch: Ns,
    ingress: [Ns; 2],
    server: Ns,
    /// Per node: (public, internal).
    ports: Vec<(Port, Port)>,
}

impl Topology {
    /// Sweeps leftovers of killed runs, then builds a fresh topology.
    pub fn build(opts: Options) -> Result<Topology, LabError> {
        if !is_root() {
            return Err(LabError::NotRoot);
        }
        let _serial = BUILD.lock().unwrap_or_else(|p| p.into_inner());
        sweep_leftovers()?;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let name = |role: &str| format!("{NS_PREFIX}{pid}-{n}-{role}");
        let roles: &[&str] = if opts.pair {
            &NODE_NAMES
        } else {
            &["appliance"]
        };
        // Each `Ns` deletes itself on drop, so an error half-way cleans up.
        let client = Ns::create(&name("client"))?;
        let router = Ns::create(&name("router"))?;
        let nodes = roles
            .iter()
            .map(|r| Ns::create(&name(r)))
            .collect::<Result<Vec<_>, _>>()?;
        let topo = Topology {
            client,
            router,
            nodes,
            switch: Ns::create(&name("k8s"))?,
            ingress: [
                Ns::create(&name("ingress1"))?,
                Ns::create(&name("ingress2"))?,
            ],
            server: Ns::create(&name("server"))?,
            ports: (0..roles.len()).map(|i| ports(pid, n, i, &opts)).collect(),
        };
        topo.wire(&opts)?;
        Ok(topo)
    }

    /// The client on the "internet".
    pub fn client(&self) -> &Ns {
        &self.client
    }
    /// The router that plays Neutron's floating IP (for the pair, also
    /// the public bridge `brp`).
    pub fn router(&self) -> &Ns {
        &self.router
    }
    /// The appliance (where the daemon runs); the pair's node `a`.
    pub fn appliance(&self) -> &Ns {
        &self.nodes[0]
    }
    /// Node `i` (0 → the appliance or `a`, 1 → `b`). Panics past the
    /// last node, a programming error.
    pub fn node(&self, i: usize) -> &Ns {
        &self.nodes[i]
    }
    /// Every appliance node: one, or the pair's two.
    pub fn nodes(&self) -> &[Ns] {
        &self.nodes
    }
    /// The namespace holding the Kubernetes network's bridge `br0`.
    pub fn switch(&self) -> &Ns {
        &self.switch
    }
    /// Ingress node `i` (0 → `ingress1` at `INGRESS[0]`, 1 → `ingress2`).
    /// Panics if `i > 1`, a programming error.
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
    /// The appliance's public port (floating-IP network); node `a`'s.
    pub fn public_port(&self) -> &Port {
        &self.ports[0].0
    }
    /// The appliance's internal port (Kubernetes network); node `a`'s.
    pub fn internal_port(&self) -> &Port {
        &self.ports[0].1
    }
    /// Whether this is the pair's layout.
    pub fn is_pair(&self) -> bool {
        self.nodes.len() == 2
    }
    /// Every namespace, client first.
    pub fn namespaces(&self) -> Vec<&Ns> {
        let mut all = vec![&self.client, &self.router];
        all.extend(&self.nodes);
        all.extend([
            &self.switch,
            &self.ingress[0],
            &self.ingress[1],
            &self.server,
        ]);
        all
    }
    /// The bridge port (in the router) behind pair node `i`'s public port.
    pub fn public_bridge_port(i: usize) -> String {
        format!("pb-{}", NODE_NAMES[i])
    }
    /// The bridge port (in the switch) behind node `i`'s internal port
    /// (`sw-a`, `sw-b`; the single appliance's is `sw-appliance`).
    pub fn internal_bridge_port(i: usize) -> String {
        format!("sw-{}", NODE_NAMES[i])
    }

    /// Adds one more host on the Kubernetes network's bridge: a namespace
    /// `pv-<pid>-<n>-<role>` with `eth0` at `addr`/24 and the appliance as
    /// its default gateway. The caller owns it; dropping it removes it.
    /// Tests use it for a pod that should not be able to claim addresses.
    pub fn attach_internal(&self, role: &str, addr: Ipv4Addr) -> Result<Ns, LabError> {
        let prefix = self.client.name().trim_end_matches("client");
        let host = Ns::create(&format!("{prefix}{role}"))?;
        // Interface names are at most 15 bytes.
        let port: String = format!("sw-{role}").chars().take(15).collect();
        attach_host(&host, &self.switch, &port, addr, APPLIANCE_INTERNAL)?;
        Ok(host)
    }

    fn wire(&self, opts: &Options) -> Result<(), LabError> {
        if opts.quiet_ipv6 {
            let hosts = [&self.client, &self.router, &self.switch, &self.server];
            for ns in hosts.into_iter().chain(&self.ingress) {
                no_ipv6(ns)?;
            }
        }
        wire_client(&self.client, &self.router, opts.client_extra)?;
        self.wire_router()?;
        self.wire_switch(opts.internal_gateway)?;
        for i in 0..self.nodes.len() {
            self.wire_node(i, opts.configure_appliance || self.is_pair())?;
        }
        if self.is_pair() {
            self.port_security()?;
        }
        Ok(())
    }

    fn wire_router(&self) -> Result<(), LabError> {
        let r = &self.router;
        r.ip(&["addr", "add", &cidr(ROUTER_OUTSIDE), "dev", "rt-client"])?;
        r.ip(&["link", "set", "rt-client", "up"])?;
        if self.is_pair() {
            bridge(r, "brp")?;
            r.ip(&["addr", "add", &cidr(ROUTER_PUBLIC), "dev", "brp"])?;
        }
        forwarding(r)?;
        let inside = if self.is_pair() {
            VIP_PUBLIC
        } else {
            APPLIANCE_PUBLIC
        };
        r.run_with_input(&["nft", "-f", "-"], floating_ip_ruleset(inside).as_bytes())?;
        Ok(())
    }

    fn wire_switch(&self, gateway: Option<Ipv4Addr>) -> Result<(), LabError> {
        let s = &self.switch;
        bridge(s, "br0")?;
        if let Some(gw) = gateway {
            s.ip(&["addr", "add", &cidr(gw), "dev", "br0"])?;
        }
        let hosts = [
            (&self.ingress[0], "sw-ingress1", INGRESS[0]),
            (&self.ingress[1], "sw-ingress2", INGRESS[1]),
            (&self.server, "sw-server", SERVER),
        ];
        for (host, port, addr) in hosts {
            attach_host(host, s, port, addr, APPLIANCE_INTERNAL)?;
        }
        Ok(())
    }

    /// Node `i`'s two ports: to the router (its own `rt-public` for the
    /// single appliance, the bridge `brp` for the pair) and to `br0`.
    fn wire_node(&self, i: usize, configure: bool) -> Result<(), LabError> {
        let (a, (public, internal)) = (&self.nodes[i], &self.ports[i]);
        let (uplink, sw) = if self.is_pair() {
            (Self::public_bridge_port(i), Self::internal_bridge_port(i))
        } else {
            ("rt-public".to_string(), "sw-appliance".to_string())
        };
        veth(a, public.name, &self.router, &uplink)?;
        veth(a, internal.name, &self.switch, &sw)?;
        for port in [public, internal] {
            a.ip(&["link", "set", port.name, "address", &port.mac.to_string()])?;
        }
        forwarding(a)?;
        if self.is_pair() {
            enslave(&self.router, &uplink, "brp")?;
        } else {
            let r = &self.router;
            r.ip(&["addr", "add", &cidr(ROUTER_PUBLIC), "dev", &uplink])?;
            r.ip(&["link", "set", &uplink, "up"])?;
        }
        enslave(&self.switch, &sw, "br0")?;
        if !configure {
            return Ok(());
        }
        let (pub_addr, int_addr) = if self.is_pair() {
            (NODE_PUBLIC[i], NODE_INTERNAL[i])
        } else {
            (APPLIANCE_PUBLIC, APPLIANCE_INTERNAL)
        };
        a.ip(&["addr", "add", &cidr(pub_addr), "dev", public.name])?;
        a.ip(&["addr", "add", &cidr(int_addr), "dev", internal.name])?;
        a.ip(&["link", "set", public.name, "up"])?;
        a.ip(&["link", "set", internal.name, "up"])?;
        a.ip(&["route", "add", "default", "via", &ROUTER_PUBLIC.to_string()])?;
        Ok(())
    }

    /// Neutron's allowed-address pairs: each bridge port may send only from
    /// its own address, the nodes' ports also from their network's VIP.
    fn port_security(&self) -> Result<(), LabError> {
        let node_ports = |bridge_port: fn(usize) -> String, own: [Ipv4Addr; 2], vip| {
            (0..2)
                .map(|i| (bridge_port(i), vec![own[i], vip]))
                .collect::<Vec<_>>()
        };
        let public = node_ports(Self::public_bridge_port, NODE_PUBLIC, VIP_PUBLIC);
        let mut internal = node_ports(Self::internal_bridge_port, NODE_INTERNAL, VIP_INTERNAL);
        internal.push(("sw-ingress1".into(), vec![INGRESS[0]]));
        internal.push(("sw-ingress2".into(), vec![INGRESS[1]]));
        internal.push(("sw-server".into(), vec![SERVER]));
        for (ns, ports) in [(&self.router, public), (&self.switch, internal)] {
            ns.run_with_input(
                &["nft", "-f", "-"],
                port_security_ruleset(&ports).as_bytes(),
            )?;
        }
        Ok(())
    }
}

/// Node `i`'s ports: names per `swap` (single node only), MACs
/// `fa:16:3e:<n>:<pid>:<last>` with last `01`/`02` for the single
/// appliance and `11`/`12`, `21`/`22` for the pair's `a` and `b`.
fn ports(pid: u32, n: u32, i: usize, opts: &Options) -> (Port, Port) {
    let [.., p] = pid.to_be_bytes();
    let [.., k] = n.to_be_bytes();
    let base = if opts.pair {
        0x10 * (u8::try_from(i).unwrap_or(0) + 1)
    } else {
        0
    };
    let mac = |last: u8| match opts.port_macs {
        Some(macs) if !opts.pair => macs[usize::from(last) - 1],
        _ => Mac([0xfa, 0x16, 0x3e, k, p, base + last]),
    };
    let (public, internal) = if opts.swap_ports && !opts.pair {
        (INTERNAL_PORT, PUBLIC_PORT)
    } else {
        (PUBLIC_PORT, INTERNAL_PORT)
    };
    (
        Port {
            name: public,
            mac: mac(1),
        },
        Port {
            name: internal,
            mac: mac(2),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_are_openstack_style_and_distinct() {
        let single = Options::default();
        let (p, i) = ports(0x1234, 7, 0, &single);
        assert_eq!(p.mac.to_string(), "fa:16:3e:07:34:01");
        assert_eq!(i.mac.to_string(), "fa:16:3e:07:34:02");
        assert_eq!((p.name, i.name), ("ens3", "ens4"));
        let swapped = Options {
            swap_ports: true,
            ..single
        };
        let (p, i) = ports(0x1234, 7, 0, &swapped);
        assert_eq!((p.name, i.name), ("ens4", "ens3"));
        let (p, i) = ports(0x1234, 7, 1, &Options::pair());
        assert_eq!(p.mac.to_string(), "fa:16:3e:07:34:21");
        assert_eq!(i.mac.to_string(), "fa:16:3e:07:34:22");
        assert_eq!((p.name, i.name), ("ens3", "ens4"));
    }
}
