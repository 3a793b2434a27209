//! Unit tests of the drain's pure parts.

use super::*;
use crate::ha::place::tests::ha;

fn plan_b() -> Plan {
    Plan::new(&ha(), "10.0.0.3".parse().expect("addr")).expect("node b")
}

#[test]
fn plan_names_this_node_and_its_peer() {
    let b = plan_b();
    assert_eq!(b.index, 1);
    assert_eq!(b.me.to_string(), "10.0.0.3");
    assert_eq!(b.peer.to_string(), "10.0.0.2");
    assert_eq!(b.vip.to_string(), "192.168.10.4");
    let a = Plan::new(&ha(), "10.0.0.2".parse().expect("addr")).expect("node a");
    assert_ne!(
        a.bit(),
        b.bit(),
        "each node marks its connections with its own bit"
    );
    // The rate meter owns bits 0x1 and 0x2 of the ct mark.
    assert_eq!((a.bit() | b.bit()) & 0x3, 0);
    assert!(Plan::new(&ha(), "10.0.0.9".parse().expect("addr")).is_none());
}

#[test]
fn table_marks_own_syns_and_never_forwards_from_the_tunnel() {
    let t = script(&plan_b());
    assert!(t.contains("delete table ip parvis_ha\n"), "{t}");
    assert!(
        t.contains("ip daddr 192.168.10.4 tcp flags & (syn | ack) == syn ct state new ct mark set ct mark | 0x200\n"),
        "{t}"
    );
    assert!(
        t.contains("iifname \"parvis-drain\" meta mark set 0x7011\n"),
        "{t}"
    );
    assert!(t.contains("hook forward"), "{t}");
    assert!(t.contains("iifname \"parvis-drain\" drop\n"), "{t}");
}

#[test]
fn relay_sends_connections_not_accepted_here_to_the_peer() {
    let t = relay_script(&plan_b());
    assert!(t.contains("priority dstnat + 10;"), "after DNAT: {t}");
    assert!(
        t.contains("iifname != \"lo\" ip daddr 192.168.10.4 meta l4proto tcp ct mark & 0x200 == 0 counter dup to 10.0.0.2 device \"parvis-drain\" drop\n"),
        "{t}"
    );
}

#[test]
fn counts_established_connections_on_the_vip() {
    // 192.168.10.4 is 040AA8C0 in /proc/net/tcp (little-endian hex).
    let text = "  sl  local_address rem_address   st tx_queue rx_queue\n\
        0: 040AA8C0:01BB 0100A8C0:C350 01 00000000:00000000\n\
        1: 040AA8C0:01BB 0200A8C0:C351 01 00000000:00000000\n\
        2: 040AA8C0:01BB 0300A8C0:C352 06 00000000:00000000\n\
        3: 040AA8C0:01BB 00000000:0000 0A 00000000:00000000\n\
        4: 0200000A:01BB 0100A8C0:C353 01 00000000:00000000\n\
        garbage\n";
    let vip: Ipv4Addr = "192.168.10.4".parse().expect("addr");
    assert_eq!(established_on(text, vip), 2);
    assert_eq!(established_on("", vip), 0);
}
