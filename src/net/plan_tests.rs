//! Unit tests for `plan` and role resolution. Pure.

use super::*;
use crate::config::{self, Mac};
use crate::net::metadata::{self, Metadata};
use crate::net::{Counters, NetError, ObservedRoute, OperState, Selection};

const PUB_MAC: &str = "fa:16:3e:00:00:0a";
const INT_MAC: &str = "fa:16:3e:00:00:0b";

fn mac(s: &str) -> Mac {
    s.parse().expect("test mac")
}

fn nic(index: u32, name: &str, m: &str) -> ObservedLink {
    ObservedLink {
        index,
        name: name.into(),
        mac: Some(mac(m)),
        loopback: false,
        up: false,
        carrier: true,
        oper_state: OperState::Down,
        mtu: 1500,
        addresses: Vec::new(),
        counters: Counters::default(),
    }
}

/// lo, then the internal NIC as ens3 and the public one as ens4.
fn observed() -> Observed {
    let mut lo = nic(1, "lo", "00:00:00:00:00:00");
    lo.loopback = true;
    Observed {
        links: vec![lo, nic(2, "ens3", INT_MAC), nic(3, "ens4", PUB_MAC)],
        routes: Vec::new(),
    }
}

fn cfg(interfaces: &str) -> Config {
    let text =
        format!("{interfaces}\n[[forward]]\nproto = \"tcp\"\nport = 2222\nto = \"10.0.0.20:22\"\n");
    config::parse(&text).expect("test config")
}

fn meta(tags: bool) -> Metadata {
    let tag = |t: &str| {
        if tags {
            format!(r#","tags":["{t}"]"#)
        } else {
            String::new()
        }
    };
    let meta = format!(
        r#"{{"uuid":"u","name":"edge","availability_zone":"nova","devices":[
            {{"type":"nic","mac":"{PUB_MAC}"{}}},{{"type":"nic","mac":"{INT_MAC}"{}}},
            {{"type":"disk","serial":"d"}}]}}"#,
        tag("public"),
        tag("internal")
    );
    let network = format!(
        r#"{{"links":[{{"id":"l1","ethernet_mac_address":"{PUB_MAC}","mtu":1450,"type":"ovs","vif_id":"x"}},
                     {{"id":"l2","ethernet_mac_address":"{INT_MAC}","mtu":1450,"type":"ovs"}}],
            "networks":[
             {{"id":"n1","link":"l1","type":"ipv4","ip_address":"192.168.10.5","netmask":"255.255.255.0",
               "routes":[{{"network":"0.0.0.0","netmask":"0.0.0.0","gateway":"192.168.10.1"}}]}},
             {{"id":"n2","link":"l2","type":"ipv4","ip_address":"10.0.0.1","netmask":"255.255.255.0",
               "routes":[{{"network":"10.42.0.0","netmask":"255.255.0.0","gateway":"10.0.0.254"}},
                         {{"network":"0.0.0.0","netmask":"0.0.0.0","gateway":"10.0.0.254"}}]}},
             {{"id":"n3","link":"l2","type":"ipv6_slaac"}}],
            "services":[]}}"#
    );
    metadata::parse("/md", meta.as_bytes(), Some(network.as_bytes()), None).expect("test metadata")
}

fn lines(changes: &[NetChange]) -> Vec<String> {
    changes.iter().map(ToString::to_string).collect()
}

/// Applies a plan to the model the way the kernel would.
fn simulate(obs: &mut Observed, changes: &[NetChange]) {
    for c in changes {
        match c {
            NetChange::LinkSetUp { index, .. } => {
                if let Some(l) = obs.links.iter_mut().find(|l| l.index == *index) {
                    l.up = true;
                }
            }
            NetChange::LinkSetMtu { index, mtu, .. } => {
                if let Some(l) = obs.links.iter_mut().find(|l| l.index == *index) {
                    l.mtu = *mtu;
                }
            }
            NetChange::AddrAdd { index, addr, .. } => {
                if let Some(l) = obs.links.iter_mut().find(|l| l.index == *index) {
                    l.addresses.push(*addr);
                }
            }
            NetChange::AddrDel { index, addr, .. } => {
                if let Some(l) = obs.links.iter_mut().find(|l| l.index == *index) {
                    l.addresses.retain(|a| a != addr);
                }
            }
            NetChange::RouteAdd { index, to, via, .. }
            | NetChange::RouteReplace { index, to, via, .. } => {
                obs.routes.retain(|r| !(r.to == *to && r.metric == 0));
                obs.routes.push(ObservedRoute {
                    to: *to,
                    via: Some(*via),
                    dev: Some(*index),
                    metric: 0,
                });
            }
        }
    }
}

#[test]
fn plan_from_tags_and_metadata_then_idempotent() {
    let c = cfg("[interfaces.public]\n[interfaces.internal]");
    let m = meta(true);
    let mut obs = observed();
    let changes = plan(&c, &obs, Some(&m)).expect("plan");
    assert_eq!(
        lines(&changes),
        [
            "ip link set dev ens4 mtu 1450",
            "ip link set dev ens4 up",
            "ip link set dev ens3 mtu 1450",
            "ip link set dev ens3 up",
            "ip addr add 192.168.10.5/24 dev ens4",
            "ip addr add 10.0.0.1/24 dev ens3",
            "ip route add default via 192.168.10.1 dev ens4",
            "ip route add 10.42.0.0/16 via 10.0.0.254 dev ens3",
        ]
    );
    simulate(&mut obs, &changes);
    assert_eq!(plan(&c, &obs, Some(&m)).expect("second plan"), []);
}

#[test]
fn config_wins_over_metadata() {
    let c = cfg(&format!(
        "[interfaces.public]\nmac = \"{PUB_MAC}\"\naddress = \"192.168.10.7/24\"\ngateway = \"192.168.10.254\"\nmtu = 1400\n\
         [interfaces.internal]\nname = \"ens3\"\nroutes = [{{ to = \"10.43.0.0/16\", via = \"10.0.0.253\" }}]"
    ));
    let mut obs = observed();
    obs.links[2].addresses = vec!["192.168.10.99/24".parse().expect("a")];
    obs.links[2].up = true;
    obs.routes.push(ObservedRoute {
        to: "0.0.0.0/0".parse().expect("c"),
        via: Some("192.168.10.1".parse().expect("ip")),
        dev: Some(3),
        metric: 100,
    });
    let changes = plan(&c, &obs, Some(&meta(false))).expect("plan");
    assert_eq!(
        lines(&changes),
        [
            "ip link set dev ens4 mtu 1400",
            "ip link set dev ens3 mtu 1450",
            "ip link set dev ens3 up",
            "ip addr del 192.168.10.99/24 dev ens4",
            "ip addr add 192.168.10.7/24 dev ens4",
            "ip addr add 10.0.0.1/24 dev ens3",
            "ip route replace default via 192.168.10.254 dev ens4",
            "ip route add 10.43.0.0/16 via 10.0.0.253 dev ens3",
            "ip route add 10.42.0.0/16 via 10.0.0.254 dev ens3",
        ]
    );
}

#[test]
fn without_interfaces_or_metadata_nothing_changes() {
    assert_eq!(
        plan(&cfg(""), &observed(), Some(&meta(true))).expect("plan"),
        []
    );
    // DHCP keeps its address: no static address, no MTU, only link up.
    let c = cfg(&format!("[interfaces.public]\nmac = \"{PUB_MAC}\""));
    let mut obs = observed();
    obs.links[2].addresses = vec!["192.168.10.50/24".parse().expect("a")];
    assert_eq!(
        lines(&plan(&c, &obs, None).expect("plan")),
        ["ip link set dev ens4 up"]
    );
}

#[test]
fn roles_by_tag_then_mac_then_name() {
    let ifs = |text: &str| cfg(text).interfaces.expect("interfaces");
    let obs = observed();
    let r = resolve(
        &ifs("[interfaces.public]\n[interfaces.internal]"),
        &obs,
        Some(&meta(true)),
    )
    .expect("by tag");
    let public = r.public.as_ref().expect("public");
    assert_eq!((public.name.as_str(), public.by), ("ens4", Selection::Tag));
    assert_eq!(r.role_of(2), Some(Role::Internal));
    let r = resolve(
        &ifs(&format!(
            "[interfaces.public]\nmac = \"{PUB_MAC}\"\n[interfaces.internal]\nname = \"ens3\""
        )),
        &obs,
        Some(&meta(false)),
    )
    .expect("by config");
    assert_eq!(r.public.as_ref().map(|a| a.by), Some(Selection::Mac));
    assert_eq!(r.internal.as_ref().map(|a| a.by), Some(Selection::Name));
}

#[test]
fn role_errors_name_what_was_expected_and_seen() {
    let ifs = |text: &str| cfg(text).interfaces.expect("interfaces");
    let obs = observed();
    let err = |text: &str, m: Option<&Metadata>| {
        resolve(&ifs(text), &obs, m)
            .expect_err("must fail")
            .to_string()
    };
    let e = err("[interfaces.public]\nmac = \"fa:16:3e:99:99:99\"", None);
    assert!(
        e.contains("interfaces.public.mac = fa:16:3e:99:99:99 matches no NIC"),
        "{e}"
    );
    assert!(
        e.contains("ens3 (fa:16:3e:00:00:0b), ens4 (fa:16:3e:00:00:0a)"),
        "{e}"
    );
    let e = err(
        &format!(
            "[interfaces.public]\nmac = \"{PUB_MAC}\"\n[interfaces.internal]\nname = \"ens4\""
        ),
        None,
    );
    assert!(
        e.contains("NIC ens4 (fa:16:3e:00:00:0a) would be both public"),
        "{e}"
    );
    let e = err(
        "[interfaces.public]\n[interfaces.internal]",
        Some(&meta(false)),
    );
    assert!(e.contains("no NIC for the public role"), "{e}");
    let e = err(
        &format!("[interfaces.public]\nmac = \"{INT_MAC}\"\n[interfaces.internal]"),
        Some(&meta(true)),
    );
    assert!(e.contains("by its OpenStack tag but ens3"), "{e}");
    let e = err("[interfaces.public]\nname = \"ens9\"", None);
    assert!(e.contains("\"ens9\" matches no NIC"), "{e}");
    let mut one = observed();
    one.links.truncate(2);
    let e = resolve(
        &ifs("[interfaces.public]\n[interfaces.internal]"),
        &one,
        None,
    )
    .expect_err("one NIC")
    .to_string();
    assert!(e.contains("expected 2 NICs"), "{e}");
    assert!(e.contains("found 1: ens3 (fa:16:3e:00:00:0b)"), "{e}");
}

#[test]
fn two_default_routes_are_refused() {
    let c = cfg(&format!(
        "[interfaces.public]\nmac = \"{PUB_MAC}\"\ngateway = \"192.168.10.1\"\n\
         [interfaces.internal]\nmac = \"{INT_MAC}\"\ngateway = \"10.0.0.254\""
    ));
    let e = plan(&c, &observed(), None).expect_err("two defaults");
    assert!(matches!(e, NetError::TwoDefaults { .. }), "{e}");
}

#[test]
fn ipv6_static_network_and_default_route() {
    let network = format!(
        r#"{{"links":[{{"id":"l1","ethernet_mac_address":"{PUB_MAC}","type":"phy"}}],
            "networks":[{{"id":"n","link":"l1","type":"ipv6","ip_address":"2001:db8:10::5",
              "netmask":"ffff:ffff:ffff:ffff::",
              "routes":[{{"network":"::","netmask":"::","gateway":"2001:db8:10::1"}}]}}]}}"#
    );
    let meta = format!(r#"{{"devices":[{{"mac":"{PUB_MAC}","tags":["public"]}}]}}"#);
    let m =
        metadata::parse("/md", meta.as_bytes(), Some(network.as_bytes()), None).expect("metadata");
    let mut obs = observed();
    obs.links[2].up = true;
    // A link-local address is never removed; the DHCP/SLAAC global one is.
    obs.links[2].addresses = vec![
        "fe80::f816:3eff:fe00:a/64".parse().expect("a"),
        "2001:db8:10::99/64".parse().expect("a"),
        "192.168.10.50/24".parse().expect("a"),
    ];
    let changes = plan(&cfg("[interfaces.public]"), &obs, Some(&m)).expect("plan");
    assert_eq!(
        lines(&changes),
        [
            "ip addr del 2001:db8:10::99/64 dev ens4",
            "ip addr add 2001:db8:10::5/64 dev ens4",
            "ip route add default via 2001:db8:10::1 dev ens4",
        ]
    );
    simulate(&mut obs, &changes);
    assert_eq!(
        plan(&cfg("[interfaces.public]"), &obs, Some(&m)).expect("again"),
        []
    );
}
