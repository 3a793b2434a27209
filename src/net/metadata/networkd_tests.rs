//! Unit tests of the networkd renderer. Pure.

use super::super::parse;
use super::*;

const META: &str = r#"{"uuid":"u-1","devices":[
  {"type":"nic","mac":"fa:16:3e:00:00:01","tags":["public"]},
  {"type":"nic","mac":"fa:16:3e:00:00:02","tags":["internal"]}]}"#;

const NET: &str = r#"{"links":[
   {"id":"tap-pub","ethernet_mac_address":"fa:16:3e:00:00:01","mtu":1450,"type":"ovs"},
   {"id":"tap-int","ethernet_mac_address":"fa:16:3e:00:00:02","mtu":null,"type":"ovs"}],
 "networks":[
   {"id":"n1","link":"tap-pub","type":"ipv4","ip_address":"192.168.10.5","netmask":"255.255.255.0",
    "routes":[{"network":"0.0.0.0","netmask":"0.0.0.0","gateway":"192.168.10.1"}],
    "services":[{"type":"dns","address":"192.168.10.2"}]},
   {"id":"n2","link":"tap-int","type":"ipv4","ip_address":"10.0.0.2/24",
    "routes":[{"network":"10.42.0.0","netmask":"255.255.0.0","gateway":"10.0.0.1"},
              {"network":"0.0.0.0","netmask":"0.0.0.0","gateway":"10.0.0.254"}]},
   {"id":"n3","link":"tap-int","type":"ipv6_slaac"}],
 "services":[{"type":"dns","address":"9.9.9.9"}]}"#;

fn files(net: &str) -> Result<Vec<NetworkFile>, MetadataError> {
    render(&parse("/md", META.as_bytes(), Some(net.as_bytes()), None)?)
}

#[test]
fn renders_both_ports_like_the_old_script() {
    let f = files(NET).expect("renders");
    assert_eq!(f.len(), 2);
    assert_eq!(f[0].name, "10-parvis-fa163e000001.network");
    assert_eq!(
        f[0].text,
        "# Written by parvis from network_data.json link tap-pub\n\
         [Match]\nMACAddress=fa:16:3e:00:00:01\n\n\
         [Link]\nMTUBytes=1450\n\n\
         [Network]\nDHCP=no\nIPv6AcceptRA=no\nLinkLocalAddressing=no\nKeepConfiguration=static\n\
         Address=192.168.10.5/24\nDNS=9.9.9.9\nDNS=192.168.10.2\n\
         \n[Route]\nGateway=192.168.10.1\n"
    );
    assert_eq!(
        f[0].summary,
        "port fa:16:3e:00:00:01 (tap-pub, public): 192.168.10.5/24"
    );
    // The internal port: its own routes, no default route, no global DNS.
    assert_eq!(
        f[1].text,
        "# Written by parvis from network_data.json link tap-int\n\
         [Match]\nMACAddress=fa:16:3e:00:00:02\n\n\
         [Network]\nDHCP=no\nIPv6AcceptRA=yes\nLinkLocalAddressing=ipv6\nKeepConfiguration=static\n\
         Address=10.0.0.2/24\n\
         \n[Route]\nDestination=10.42.0.0/16\nGateway=10.0.0.1\n"
    );
}

#[test]
fn a_newline_in_a_value_is_refused_not_written() {
    let gw = NET.replace(
        r#""gateway":"192.168.10.1""#,
        r#""gateway":"192.168.10.1\n[Network]\nDNS=203.0.113.66""#,
    );
    let e = files(&gw).expect_err("injected gateway").to_string();
    assert!(e.contains("networks[0].routes[0].gateway"), "{e}");
    let dns = NET.replace("9.9.9.9", "9.9.9.9\\nDNS=203.0.113.66");
    let e = files(&dns).expect_err("injected dns").to_string();
    assert!(e.contains("services[0].address"), "{e}");
    let mtu = NET.replace("1450", "4294967295");
    let e = files(&mtu).expect_err("absurd mtu").to_string();
    assert!(e.contains("mtu") && e.contains("68-65535"), "{e}");
    // A link id only reaches a comment, stripped to printable characters.
    let id = NET.replace(
        r#""id":"tap-pub""#,
        r#""id":"tap-pub\n[Route]\nGateway=203.0.113.66""#,
    );
    let id = id.replace(
        r#""link":"tap-pub""#,
        r#""link":"tap-pub\n[Route]\nGateway=203.0.113.66""#,
    );
    let f = files(&id).expect("renders");
    let live = f[0].text.lines().filter(|l| !l.starts_with('#'));
    assert!(
        !live.clone().any(|l| l.contains("203.0.113.66")),
        "{}",
        f[0].text
    );
    assert_eq!(
        f[0].text.lines().count(),
        live.count() + 1,
        "one comment line"
    );
    assert_eq!(f[0].text.matches("[Route]").count(), 1, "{}", f[0].text);
}

#[test]
fn without_tags_the_port_with_the_default_route_is_public() {
    let meta = r#"{"uuid":"u-1"}"#;
    let m = parse("/md", meta.as_bytes(), Some(NET.as_bytes()), None).expect("parses");
    let f = render(&m).expect("renders");
    assert!(f[0].summary.contains("public"), "{}", f[0].summary);
    assert!(!f[1].summary.contains("public"), "{}", f[1].summary);
}
