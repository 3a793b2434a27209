//! The OpenStack metadata parsers (`net::metadata`). The first byte picks
//! the document: `m` meta_data.json, `n` network_data.json (with a fixed
//! meta_data.json tagging two NICs, then the network plan for them), `u`
//! user data (the first config), `h` an answer of the metadata service.
//! No panic; an error names its file; what parses is usable.

use parvis::config::Mac;
use parvis::net::metadata::{self, first_config, safe_default, Metadata};
use parvis::net::{Counters, Observed, ObservedLink, OperState};

/// Two NICs tagged `public` and `internal`, as Nova describes them.
const META: &[u8] = br#"{"uuid":"u-1","hostname":"edge-1","devices":[
 {"type":"nic","mac":"fa:16:3e:00:00:01","tags":["public"]},
 {"type":"nic","mac":"fa:16:3e:00:00:02","tags":["internal"]}]}"#;

/// Feeds `data` to the parser its first byte names.
pub fn check(data: &[u8]) {
    let Some((&kind, doc)) = data.split_first() else {
        return;
    };
    match kind {
        b'm' => meta_data(doc),
        b'n' => network_data(doc),
        b'u' => user_data(doc),
        b'h' => {
            let _ = metadata::parse_service_response(doc);
        }
        _ => {}
    }
}

fn meta_data(doc: &[u8]) {
    match metadata::parse("/md", doc, None, None) {
        Err(e) => assert!(e.to_string().contains("meta_data.json"), "{e}"),
        Ok(meta) => {
            for tag in ["public", "internal"] {
                for mac in meta.tagged(tag) {
                    assert!(meta.static_networks(mac).is_empty());
                }
            }
            let name = safe_default(Some(&meta)).appliance.name;
            assert!(!name.is_empty() && name.chars().count() <= 63, "{name:?}");
            assert!(!name.chars().any(char::is_control), "{name:?}");
        }
    }
}

fn nic(index: u32, mac: &str) -> ObservedLink {
    ObservedLink {
        index,
        name: format!("eth{index}"),
        mac: mac.parse::<Mac>().ok(),
        loopback: false,
        up: true,
        carrier: true,
        oper_state: OperState::Up,
        mtu: 1500,
        addresses: Vec::new(),
        counters: Counters::default(),
    }
}

fn network_data(doc: &[u8]) {
    let meta = match metadata::parse("/md", META, Some(doc), None) {
        Err(e) => {
            assert!(e.to_string().contains("network_data.json"), "{e}");
            return;
        }
        Ok(meta) => meta,
    };
    for mac in meta
        .tagged("public")
        .into_iter()
        .chain(meta.tagged("internal"))
    {
        for net in meta.static_networks(mac) {
            let addr = net.address.expect("a static network has an address");
            for route in &net.routes {
                assert_eq!(route.to.is_ipv4(), route.via.is_ipv4(), "{route:?}");
            }
            assert!(addr.0.prefix_len() <= addr.0.max_prefix_len());
        }
    }
    let observed = Observed {
        links: vec![nic(2, "fa:16:3e:00:00:01"), nic(3, "fa:16:3e:00:00:02")],
        routes: Vec::new(),
    };
    let cfg = safe_default(Some(&meta));
    assert!(cfg.interfaces.is_some(), "both NICs are tagged");
    let _ = parvis::net::plan(&cfg, &observed, Some(&meta));
}

fn user_data(doc: &[u8]) {
    let meta = Metadata {
        user_data: Some(doc.to_vec()),
        ..Metadata::default()
    };
    let first = first_config(&meta);
    assert!(!first.reason.is_empty());
    if let Some(text) = &first.text {
        assert_eq!(text.as_bytes(), doc);
        assert!(parvis::config::parse(text).is_ok());
    }
}
