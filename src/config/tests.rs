//! Unit tests of `validate` and the cross-item checks through [`parse`]:
//! defaults, normalisation, and the cases that must NOT be rejected.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::*;

const TAIL: &str = r#"
[backend.b]
servers = ["10.0.0.11:443"]
"#;

fn listener(bind: &str, extra: &str) -> String {
    format!("[[listener]]\nname = \"l\"\nbind = \"{bind}\"\nprotocol = \"tls\"\ndefault_backend = \"b\"\n{extra}\n{TAIL}")
}

fn ok(text: &str) -> Config {
    parse(text).unwrap_or_else(|e| panic!("{text}\n---\n{e}"))
}

fn problems(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.problems.iter().map(|p| p.to_string()).collect(),
    }
}

#[test]
fn defaults_are_filled_in() {
    let c = ok(&listener("0.0.0.0:443", ""));
    assert_eq!(c.appliance.name, "parvis");
    assert_eq!(c.appliance.max_connections, 20_000);
    assert_eq!(c.admin.listen, SocketAddr::from(([0, 0, 0, 0], 8443)));
    assert_eq!(c.admin.ssh_port, 22);
    assert!(c.admin.allow.is_empty() && c.admin.tls.is_none());
    assert_eq!(c.limits.conn_rate, None);
    assert_eq!(c.limits.ban, Duration::ZERO);
    let l = &c.listeners[0];
    assert_eq!(l.hello_timeout, Duration::from_secs(5));
    assert_eq!(l.idle_timeout, Duration::from_secs(600));
    assert_eq!(l.max_connections, 20_000);
    let b = &c.backends["b"];
    assert_eq!(b.name, "b");
    assert_eq!(b.proxy_protocol, ProxyVersion::V2);
    assert_eq!(b.balance, Balance::RoundRobin);
    assert_eq!(b.health, Health::default());
    assert!(c.interfaces.is_none() && c.metrics.is_none());
}

#[test]
fn burst_defaults_to_twice_the_rate() {
    let c = ok(&format!(
        "[limits]\nconn_rate = \"50/second\"\n{}",
        listener("0.0.0.0:443", "")
    ));
    assert_eq!(c.limits.conn_burst, 100);
}

#[test]
fn ipv4_accept_proxy_on_an_ipv6_listener_is_fine() {
    for bind in ["[::]:443", "[2001:db8::5]:443"] {
        let c = ok(&listener(bind, "accept_proxy = [\"192.168.10.0/24\"]"));
        let peer: IpAddr = "::ffff:192.168.10.7".parse().expect("ip");
        assert!(c.listeners[0].accept_proxy[0].contains(peer));
    }
}

#[test]
fn ipv6_accept_proxy_on_an_ipv4_listener_is_not() {
    let p = problems(&listener(
        "0.0.0.0:443",
        "accept_proxy = [\"2001:db8::/64\"]",
    ));
    assert_eq!(p.len(), 1);
    assert!(
        p[0].contains("listener[0].accept_proxy[0]: is IPv6"),
        "{p:?}"
    );
}

#[test]
fn accept_proxy_width() {
    ok(&listener("0.0.0.0:443", "accept_proxy = [\"10.0.0.0/8\"]"));
    ok(&listener("[::]:443", "accept_proxy = [\"2001:db8::/32\"]"));
    for wide in ["0.0.0.0/0", "::ffff:0.0.0.0/96", "0.0.0.0/7"] {
        let p = problems(&listener(
            "[::]:443",
            &format!("accept_proxy = [\"{wide}\"]"),
        ));
        assert!(p[0].contains("accept_proxy[0]"), "{wide}: {p:?}");
    }
    let p = problems(&listener("[::]:443", "accept_proxy = [\"2000::/3\"]"));
    assert!(p[0].contains("too wide"), "{p:?}");
}

#[test]
fn binds_on_different_addresses_do_not_clash() {
    let two = "[[listener]]\nname = \"a\"\nbind = \"192.168.10.5:443\"\nprotocol = \"tls\"\n\
         [[listener]]\nname = \"c\"\nbind = \"127.0.0.1:443\"\nprotocol = \"tls\"\n\
         [[listener]]\nname = \"d\"\nbind = \"[2001:db8::5]:443\"\nprotocol = \"tls\"\n\
         [[listener]]\nname = \"e\"\nbind = \"0.0.0.0:444\"\nprotocol = \"tls\"\n\
         [[listener]]\nname = \"f\"\nbind = \"[2001:db8::6]:444\"\nprotocol = \"tls\"\n\
         [[forward]]\nproto = \"udp\"\nport = 443\nto = \"10.0.0.20\"\n";
    assert_eq!(ok(two).listeners.len(), 5);
}

#[test]
fn ssh_port_moves_with_admin() {
    let fwd = "[[forward]]\nport = 22\nto = \"10.0.0.20\"\n";
    assert!(problems(fwd)[0].contains("admin.ssh_port"));
    ok(&format!("[admin]\nssh_port = 2022\n{fwd}"));
    let p = problems(&format!("[admin]\nssh_port = 0\n{fwd}"));
    assert!(
        p.iter()
            .any(|l| l.contains("admin.ssh_port: must be a port")),
        "{p:?}"
    );
}

#[test]
fn forward_targets() {
    let f = |port: &str, to: &str| format!("[[forward]]\nport = {port}\nto = \"{to}\"\n");
    let c = ok(&f("\"30000-30100\"", "10.0.0.20:30000"));
    assert_eq!(c.forwards[0].to_port, None, "a range keeps its ports");
    let c = ok(&f("2222", "10.0.0.20:22"));
    assert_eq!(c.forwards[0].to_port, Some(22));
    assert_eq!(c.forwards[0].proto, Transport::Tcp);
    assert!(!c.forwards[0].masquerade);
    let c = ok(&f("2222", "[fd00::20]:22"));
    assert_eq!(
        c.forwards[0].to_addr,
        "fd00::20".parse::<IpAddr>().expect("ip")
    );
    for bad in ["0.0.0.0:22", "10.0.0.20:0", "224.0.0.1", "[::]:22"] {
        let p = problems(&f("2222", bad));
        assert!(p[0].contains("forward[0].to: "), "{bad}: {p:?}");
    }
    let p = problems(&f("70000", "10.0.0.20"));
    assert!(
        p[0].contains("forward[0].port: \"70000\" is not a port"),
        "{p:?}"
    );
}

#[test]
fn timeouts_and_health() {
    let p = problems(&listener("0.0.0.0:443", "idle_timeout = \"0s\""));
    assert!(
        p[0].contains("listener[0].idle_timeout: must be above zero"),
        "{p:?}"
    );
    let health = |h: &str| {
        format!("[[forward]]\nport = 2222\nto = \"10.0.0.20\"\n[backend.b]\nservers = [\"10.0.0.1:1\"]\nhealth = {{ {h} }}\n")
    };
    let c = ok(&health("interval = \"5s\""));
    assert_eq!(c.backends["b"].health.interval, Duration::from_secs(5));
    assert_eq!(c.backends["b"].health.timeout, Duration::from_secs(1));
    let p = problems(&health("interval = \"50ms\""));
    assert!(p[0].contains("allowed range 100ms to 1h"), "{p:?}");
    let p = problems(&health("fall = 0"));
    assert!(p[0].contains("health.fall: 0 is outside"), "{p:?}");
}

#[test]
fn names_and_interfaces() {
    let p = problems(&format!(
        "[appliance]\nstate_dir = \"var/lib\"\n{}",
        listener("0.0.0.0:443", "")
    ));
    assert!(p[0].contains("appliance.state_dir"), "{p:?}");
    let both = format!(
        "[interfaces.public]\nname = \"ens3\"\n[interfaces.internal]\nname = \"ens3\"\n{}",
        listener("0.0.0.0:443", "")
    );
    assert!(problems(&both)[0].contains("interfaces.internal.name: names the same NIC"));
    let tags = format!(
        "[interfaces.public]\n[interfaces.internal]\n{}",
        listener("0.0.0.0:443", "")
    );
    let c = ok(&tags);
    let ifs = c.interfaces.expect("interfaces");
    assert_eq!(ifs.public.expect("public").select, PortSelector::Tag);
    let gw = format!(
        "[interfaces.public]\naddress = \"2001:db8::5/64\"\ngateway = \"fe80::1\"\n{}",
        listener("[::]:443", "")
    );
    ok(&gw);
}

#[test]
fn problems_are_in_file_order_with_lines() {
    let text = "[[listener]]\nname = \"a\"\nbind = \"0.0.0.0:443\"\nprotocol = \"tls\"\ndefault_backend = \"zz\"\n\
                [[route]]\nlistener = \"a\"\nhosts = [\"x..y\"]\nbackend = \"b\"\n";
    let p = problems(text);
    assert_eq!(
        p,
        [
            "line 5: listener[0].default_backend: no backend is named \"zz\"",
            "line 8: route[0].hosts[0]: \"x..y\" is not a valid host name: it has an empty label",
            "line 9: route[0].backend: no backend is named \"b\"",
        ]
    );
}
