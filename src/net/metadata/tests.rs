//! Unit tests for the metadata documents and first boot. Pure.

use super::*;

const META: &str = r#"{"uuid":"u-1","hostname":"edge-1","launch_index":0,"random_seed":"x",
  "public_keys":{"k":"ssh-ed25519 AAAA"},
  "devices":[{"type":"nic","bus":"pci","mac":"fa:16:3e:00:00:01","tags":["Public"],"vlan":null}]}"#;

fn parse_net(network: &str) -> Result<Metadata, MetadataError> {
    parse("/md", META.as_bytes(), Some(network.as_bytes()), None)
}

#[test]
fn tolerant_of_unknown_fields() {
    let m = parse_net(
        r#"{"links":[{"id":"l","ethernet_mac_address":"FA:16:3E:00:00:01","mtu":null,"type":"phy","new":1}],
            "networks":[{"id":"n","link":"l","type":"ipv6","ip_address":"2001:db8::5/64",
              "routes":[{"network":"::","netmask":"::","gateway":"2001:db8::1"}]},
              {"id":"d","link":"l","type":"ipv4_dhcp"}], "services":[]}"#,
    )
    .expect("valid");
    let mac: crate::config::Mac = "fa:16:3e:00:00:01".parse().expect("mac");
    assert_eq!(m.tagged("public"), [mac]);
    assert_eq!(m.meta.public_keys.len(), 1);
    let nets = m.static_networks(mac);
    assert_eq!(nets.len(), 1);
    assert_eq!(
        nets[0].address.map(|a| a.to_string()).as_deref(),
        Some("2001:db8::5/64")
    );
    assert_eq!(nets[0].routes[0].to.to_string(), "::/0");
}

#[test]
fn clear_errors_name_the_file() {
    let e = parse_net("this is not json")
        .expect_err("not json")
        .to_string();
    assert!(
        e.starts_with("/md/openstack/latest/network_data.json is not JSON"),
        "{e}"
    );
    let e = parse_net(r#"{"networks":[]}"#)
        .expect_err("no links")
        .to_string();
    assert!(
        e.contains("network_data.json: expected a JSON object with `links`"),
        "{e}"
    );
    assert!(e.contains("missing field `links`"), "{e}");
    let e = parse_net(
        r#"{"links":[],"networks":[{"link":"l","type":"ipv4","ip_address":"10.0.0.1","netmask":"255.0.255.0"}]}"#,
    )
    .expect_err("bad mask")
    .to_string();
    assert!(e.contains("networks[0].netmask"), "{e}");
    let e = parse("/md", b"[1,2]", None, None)
        .expect_err("array")
        .to_string();
    assert!(e.contains("meta_data.json: expected a JSON object"), "{e}");
}

#[test]
fn netmasks() {
    let p = |s: &str| prefix_len(s.parse().expect("ip"));
    assert_eq!(p("255.255.255.0"), Some(24));
    assert_eq!(p("0.0.0.0"), Some(0));
    assert_eq!(p("ffff:ffff:ffff:ffff::"), Some(64));
    assert_eq!(p("255.0.255.0"), None);
}

#[test]
fn first_boot_takes_user_data_or_the_safe_default() {
    let mut m = parse_net(r#"{"links":[]}"#).expect("valid");
    let f = first_config(&m);
    assert!(f.is_safe_default());
    assert!(
        f.reason.starts_with("there is no user data"),
        "{}",
        f.reason
    );
    assert!(f.config.admin.allow.is_empty());
    assert!(f.config.listeners.is_empty() && f.config.forwards.is_empty());
    assert_eq!(f.config.appliance.name, "edge-1");
    assert!(f.config.interfaces.is_none(), "only one role is tagged");

    m.user_data = Some(b"#cloud-config\npackages: []\n".to_vec());
    assert!(first_config(&m).reason.contains("cloud-init"));
    m.user_data = Some(b"[[listener]]\nname = 1\n".to_vec());
    let f = first_config(&m);
    assert!(f.is_safe_default());
    assert!(
        f.reason.contains("not a valid parvis config"),
        "{}",
        f.reason
    );

    let text = "[admin]\nallow = [\"198.51.100.0/24\"]\n[[forward]]\nproto = \"tcp\"\nport = 2222\nto = \"10.0.0.20:22\"\n";
    m.user_data = Some(text.as_bytes().to_vec());
    let f = first_config(&m);
    assert_eq!(f.text.as_deref(), Some(text));
    assert_eq!(f.config.forwards.len(), 1);
    assert_eq!(f.config.admin.allow.len(), 1);
}
