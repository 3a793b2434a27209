//! Building the lab topology: namespaces, veth pairs, addresses, routes, NAT.
//!
//! Does I/O: every step is an `ip`, `nft` or `sysctl` command.

use std::fmt;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use super::ns::Ns;
use super::sweep::{sweep_leftovers, NS_PREFIX};
use super::*;

/// Topologies built by this process so far: the `<n>` in `pv-<pid>-<n>-...`.
pub(super) static COUNTER: AtomicU32 = AtomicU32::new(0);
/// Serialises builds in one process: `ip netns add` racing with itself on a
/// fresh `/run/netns` mount, and a sweep racing with a build, both misbehave.
pub(super) static BUILD: Mutex<()> = Mutex::new(());

/// How to build a [`Topology`].
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Name the public port `ens4` and the internal port `ens3` (the
    /// default is the other way round), so tests catch code that trusts names.
    pub swap_ports: bool,
    /// Give the appliance its addresses, default route and up links. When
    /// false its two ports exist (with their MACs) but stay down, with no
    /// address and no route: the daemon under test configures them.
    pub configure_appliance: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            swap_ports: false,
            configure_appliance: true,
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

/// The whole lab. Dropping it deletes every namespace it made.
#[derive(Debug)]
pub struct Topology {
    client: Ns,
    router: Ns,
    appliance: Ns,
    switch: Ns,
    ingress: [Ns; 2],
    server: Ns,
    public: Port,
    internal: Port,
}

impl Topology {
    /// Sweeps leftovers of killed runs, then builds a fresh topology.
    pub fn build(opts: Options) -> Result<Topology, LabError> {
        if !is_root() {
            return Err(LabError::NotRoot);
        }
        let _serial = BUILD
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        sweep_leftovers()?;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let name = |role: &str| format!("{NS_PREFIX}{pid}-{n}-{role}");
        let (public, internal) = ports(pid, n, opts.swap_ports);
        // Each `Ns` deletes itself on drop, so an error half-way cleans up.
        let topo = Topology {
            client: Ns::create(&name("client"))?,
            router: Ns::create(&name("router"))?,
            appliance: Ns::create(&name("appliance"))?,
            switch: Ns::create(&name("k8s"))?,
            ingress: [
                Ns::create(&name("ingress1"))?,
                Ns::create(&name("ingress2"))?,
            ],
            server: Ns::create(&name("server"))?,
            public,
            internal,
        };
        wire_client(&topo.client, &topo.router)?;
        topo.wire_router()?;
        topo.wire_appliance(opts.configure_appliance)?;
        topo.wire_switch()?;
        Ok(topo)
    }

    /// The client on the "internet".
    pub fn client(&self) -> &Ns {
        &self.client
    }
    /// The router that plays Neutron's floating IP.
    pub fn router(&self) -> &Ns {
        &self.router
    }
    /// The appliance (where the daemon runs).
    pub fn appliance(&self) -> &Ns {
        &self.appliance
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
    /// The appliance's public port (floating-IP network).
    pub fn public_port(&self) -> &Port {
        &self.public
    }
    /// The appliance's internal port (Kubernetes network).
    pub fn internal_port(&self) -> &Port {
        &self.internal
    }
    /// Every namespace, client first.
    pub fn namespaces(&self) -> [&Ns; 7] {
        [
            &self.client,
            &self.router,
            &self.appliance,
            &self.switch,
            &self.ingress[0],
            &self.ingress[1],
            &self.server,
        ]
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

    fn wire_router(&self) -> Result<(), LabError> {
        let r = &self.router;
        veth(r, "rt-public", &self.appliance, self.public.name)?;
        r.ip(&["addr", "add", &cidr(ROUTER_OUTSIDE), "dev", "rt-client"])?;
        r.ip(&["addr", "add", &cidr(ROUTER_PUBLIC), "dev", "rt-public"])?;
        r.ip(&["link", "set", "rt-client", "up"])?;
        r.ip(&["link", "set", "rt-public", "up"])?;
        forwarding(r)?;
        r.run_with_input(
            &["nft", "-f", "-"],
            floating_ip_ruleset(APPLIANCE_PUBLIC).as_bytes(),
        )?;
        Ok(())
    }

    fn wire_appliance(&self, configure: bool) -> Result<(), LabError> {
        let a = &self.appliance;
        veth(a, self.internal.name, &self.switch, "sw-appliance")?;
        for port in [&self.public, &self.internal] {
            a.ip(&["link", "set", port.name, "address", &port.mac.to_string()])?;
        }
        forwarding(a)?;
        if !configure {
            return Ok(());
        }
        a.ip(&[
            "addr",
            "add",
            &cidr(APPLIANCE_PUBLIC),
            "dev",
            self.public.name,
        ])?;
        a.ip(&[
            "addr",
            "add",
            &cidr(APPLIANCE_INTERNAL),
            "dev",
            self.internal.name,
        ])?;
        a.ip(&["link", "set", self.public.name, "up"])?;
        a.ip(&["link", "set", self.internal.name, "up"])?;
        a.ip(&["route", "add", "default", "via", &ROUTER_PUBLIC.to_string()])?;
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
            attach_host(host, s, port, addr, APPLIANCE_INTERNAL)?;
        }
        s.ip(&["link", "set", "sw-appliance", "master", "br0"])?;
        s.ip(&["link", "set", "sw-appliance", "up"])?;
        Ok(())
    }
}

/// The router's nftables ruleset: Neutron's 1:1 floating-IP NAT to
/// `inside` (the appliance's public address, or the pair's VIP). Inbound
/// keeps the client's source address; only the destination is rewritten.
pub(super) fn floating_ip_ruleset(inside: Ipv4Addr) -> String {
    format!(
        "table ip pv-floating-ip {{\n\
         \tchain prerouting {{\n\
         \t\ttype nat hook prerouting priority dstnat; policy accept;\n\
         \t\tip daddr {FLOATING_IP} dnat to {inside}\n\
         \t}}\n\
         \tchain postrouting {{\n\
         \t\ttype nat hook postrouting priority srcnat; policy accept;\n\
         \t\tip saddr {inside} snat to {FLOATING_IP}\n\
         \t}}\n\
         }}\n"
    )
}

/// The appliance's ports: names per `swap`, MACs `fa:16:3e:<n>:<pid>:<01|02>`.
fn ports(pid: u32, n: u32, swap: bool) -> (Port, Port) {
    let [.., p] = pid.to_be_bytes();
    let [.., k] = n.to_be_bytes();
    let mac = |last: u8| Mac([0xfa, 0x16, 0x3e, k, p, last]);
    let (public, internal) = if swap {
        ("ens4", "ens3")
    } else {
        ("ens3", "ens4")
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

/// The client on the "internet": `eth0` to the router's `rt-client`, its
/// three addresses, the router as default gateway.
pub(super) fn wire_client(c: &Ns, router: &Ns) -> Result<(), LabError> {
    veth(c, "eth0", router, "rt-client")?;
    for addr in [CLIENT, CLIENT_2, CLIENT_3] {
        c.ip(&["addr", "add", &cidr(addr), "dev", "eth0"])?;
    }
    c.ip(&["link", "set", "eth0", "up"])?;
    c.ip(&[
        "route",
        "add",
        "default",
        "via",
        &ROUTER_OUTSIDE.to_string(),
    ])?;
    Ok(())
}

/// A host on the switch's bridge `br0`: `eth0` at `addr` to the switch's
/// `port`, default route via `gateway`.
pub(super) fn attach_host(
    host: &Ns,
    switch: &Ns,
    port: &str,
    addr: Ipv4Addr,
    gateway: Ipv4Addr,
) -> Result<(), LabError> {
    veth(host, "eth0", switch, port)?;
    host.ip(&["addr", "add", &cidr(addr), "dev", "eth0"])?;
    host.ip(&["link", "set", "eth0", "up"])?;
    host.ip(&["route", "add", "default", "via", &gateway.to_string()])?;
    switch.ip(&["link", "set", port, "master", "br0"])?;
    switch.ip(&["link", "set", port, "up"])?;
    Ok(())
}

/// Creates a veth pair with each end directly inside its namespace, so
/// nothing ever appears in the host namespace.
pub(super) fn veth(a: &Ns, a_name: &str, b: &Ns, b_name: &str) -> Result<(), LabError> {
    let args = [
        "link",
        "add",
        a_name,
        "netns",
        a.name(),
        "type",
        "veth",
        "peer",
        "name",
        b_name,
        "netns",
        b.name(),
    ];
    super::ns::ip(&args).map(|_| ())
}

pub(super) fn forwarding(ns: &Ns) -> Result<(), LabError> {
    ns.run(&["sysctl", "-qw", "net.ipv4.ip_forward=1"])
        .map(|_| ())
}

pub(super) fn cidr(addr: std::net::Ipv4Addr) -> String {
    format!("{addr}/{PREFIX_LEN}")
}

/// Effective UID 0, read from the owner of `/proc/self` (no `unsafe`).
pub(super) fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_are_openstack_style_and_distinct() {
        let (p, i) = ports(0x1234, 7, false);
        assert_eq!(p.mac.to_string(), "fa:16:3e:07:34:01");
        assert_eq!(i.mac.to_string(), "fa:16:3e:07:34:02");
        assert_eq!((p.name, i.name), ("ens3", "ens4"));
        let (p, i) = ports(0x1234, 7, true);
        assert_eq!((p.name, i.name), ("ens4", "ens3"));
    }

    #[test]
    fn ruleset_dnats_and_snats_the_floating_ip() {
        let r = floating_ip_ruleset(APPLIANCE_PUBLIC);
        assert!(r.contains("ip daddr 203.0.113.10 dnat to 192.168.10.5\n"));
        assert!(r.contains("ip saddr 192.168.10.5 snat to 203.0.113.10\n"));
    }
}
