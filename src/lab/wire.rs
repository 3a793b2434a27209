//! The lab's wiring steps, shared by the single-node and the pair layouts
//! of [`super::Topology`]: veth pairs, hosts on a bridge, forwarding, the
//! router's floating-IP NAT and the bridges' port security.
//!
//! Does I/O (every step is an `ip`, `nft` or `sysctl` command), except the
//! ruleset texts, which are pure.

use std::net::Ipv4Addr;

use super::ns::Ns;
use super::{LabError, CLIENT, CLIENT_2, CLIENT_3, FLOATING_IP, PREFIX_LEN, ROUTER_OUTSIDE};

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

/// The client on the "internet": `eth0` to the router's `rt-client`, its
/// three addresses (and `extra` ones, as /32 with a route back on the
/// router), the router as default gateway.
pub(super) fn wire_client(c: &Ns, router: &Ns, extra: &[Ipv4Addr]) -> Result<(), LabError> {
    veth(c, "eth0", router, "rt-client")?;
    router.ip(&["link", "set", "rt-client", "up"])?;
    for addr in [CLIENT, CLIENT_2, CLIENT_3] {
        c.ip(&["addr", "add", &cidr(addr), "dev", "eth0"])?;
    }
    for addr in extra {
        c.ip(&["addr", "add", &format!("{addr}/32"), "dev", "eth0"])?;
        router.ip(&["route", "add", &format!("{addr}/32"), "dev", "rt-client"])?;
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
    enslave(switch, port, "br0")
}

/// Puts `port` of `ns` on `bridge` and brings it up.
pub(super) fn enslave(ns: &Ns, port: &str, bridge: &str) -> Result<(), LabError> {
    ns.ip(&["link", "set", port, "master", bridge])?;
    ns.ip(&["link", "set", port, "up"])?;
    Ok(())
}

/// A bridge `name` in `ns`, up, with no forwarding delay.
pub(super) fn bridge(ns: &Ns, name: &str) -> Result<(), LabError> {
    ns.ip(&["link", "add", name, "type", "bridge", "forward_delay", "0"])?;
    ns.ip(&["link", "set", name, "up"])?;
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

/// IPv4 forwarding on in `ns`.
pub(super) fn forwarding(ns: &Ns) -> Result<(), LabError> {
    ns.run(&["sysctl", "-qw", "net.ipv4.ip_forward=1"])
        .map(|_| ())
}

/// IPv6 off in `ns` (before its links exist), so no neighbour discovery
/// or MLD packet from it moves a counter under test.
pub(super) fn no_ipv6(ns: &Ns) -> Result<(), LabError> {
    for key in ["all", "default"] {
        ns.run(&[
            "sysctl",
            "-qw",
            &format!("net.ipv6.conf.{key}.disable_ipv6=1"),
        ])?;
    }
    Ok(())
}

/// `addr/24`.
pub(super) fn cidr(addr: Ipv4Addr) -> String {
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
    fn ruleset_dnats_and_snats_the_floating_ip() {
        let r = floating_ip_ruleset(Ipv4Addr::new(192, 168, 10, 5));
        assert!(r.contains("ip daddr 203.0.113.10 dnat to 192.168.10.5\n"));
        assert!(r.contains("ip saddr 192.168.10.5 snat to 203.0.113.10\n"));
    }

    #[test]
    fn port_security_allows_own_address_and_vip_and_drops_vrrp_multicast() {
        let own = Ipv4Addr::new(10, 0, 0, 2);
        let vip = Ipv4Addr::new(10, 0, 0, 1);
        let r = port_security_ruleset(&[("sw-a".into(), vec![own, vip])]);
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
}
