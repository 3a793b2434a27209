//! The rig shared by the `net` tests: the lab (`parvis::lab::Topology`,
//! built by the lab builder) with the appliance's two ports left down and
//! bare, their names in a random order and their MACs fixed, the
//! Kubernetes network's router at 10.0.0.254 on its bridge, and a
//! config-drive folder that describes the ports. The public gateway is
//! the lab's router (192.168.10.1). Does I/O (namespaces, files,
//! processes).
#![allow(dead_code)] // each test binary uses its own subset

use std::path::Path;
use std::process::Output;

use parvis::lab::{Mac, Ns, Options, Topology};
use serde_json::Value;

use crate::support;

/// MAC of the public NIC.
pub const PUB_MAC: &str = "fa:16:3e:5a:00:01";
/// MAC of the internal NIC.
pub const INT_MAC: &str = "fa:16:3e:5a:00:02";
/// The bridge port (in the lab's switch) behind the internal NIC: down
/// there is carrier loss for the appliance.
pub const INTERNAL_PEER: &str = "sw-appliance";

/// The lab and a config-drive folder.
pub struct Rig {
    /// The lab: the appliance, its router and the Kubernetes bridge.
    pub lab: Topology,
    /// Name of the public NIC.
    pub public: String,
    /// Name of the internal NIC.
    pub internal: String,
    /// Config drive folder and `parvis.toml`.
    pub dir: tempfile::TempDir,
}

impl Rig {
    /// The appliance's namespace.
    pub fn app(&self) -> &Ns {
        self.lab.appliance()
    }
}

pub fn ip(ns: &Ns, args: &[&str]) {
    if let Err(e) = ns.ip(args) {
        panic!("ip {args:?} in {}: {e}", ns.name());
    }
}

pub fn rig(_tag: &str) -> Rig {
    // Nothing guarantees that ens3 is the public port: pick at random.
    let lab = support::topology_with(Options {
        swap_ports: rand::random::<bool>(),
        configure_appliance: false,
        port_macs: Some([
            Mac([0xfa, 0x16, 0x3e, 0x5a, 0, 1]),
            Mac([0xfa, 0x16, 0x3e, 0x5a, 0, 2]),
        ]),
        internal_gateway: Some("10.0.0.254".parse().expect("address")),
        ..Options::default()
    });
    let (public, internal) = (lab.public_port(), lab.internal_port());
    assert_eq!(
        (public.mac.to_string(), internal.mac.to_string()),
        (PUB_MAC.to_string(), INT_MAC.to_string())
    );
    let (public, internal) = (public.name.to_string(), internal.name.to_string());
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    };
    write_drive(dir.path(), true, &network_data());
    write(
        &dir.path().join("parvis.toml"),
        "[interfaces.public]\n[interfaces.internal]\n\n[[forward]]\nproto = \"tcp\"\nport = 2222\nto = \"10.0.0.20:22\"\n",
    );
    Rig {
        lab,
        public,
        internal,
        dir,
    }
}

pub fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        if let Err(e) = std::fs::create_dir_all(parent) {
            panic!("mkdir {}: {e}", parent.display());
        }
    }
    if let Err(e) = std::fs::write(path, text) {
        panic!("write {}: {e}", path.display());
    }
}

pub fn meta_data(tags: bool) -> String {
    let tag = |t: &str| {
        if tags {
            format!(r#", "tags": ["{t}"]"#)
        } else {
            String::new()
        }
    };
    format!(
        r#"{{"uuid": "0b5e2b1c-1111-4a4a-9b9b-123456789abc", "name": "edge-1", "hostname": "edge-1",
  "launch_index": 0, "availability_zone": "nova", "project_id": "p", "random_seed": "c2VlZA==",
  "public_keys": {{"ops": "ssh-ed25519 AAAAC3Nza ops"}},
  "devices": [
    {{"type": "nic", "bus": "pci", "address": "0000:00:03.0", "mac": "{INT_MAC}"{}}},
    {{"type": "nic", "bus": "pci", "address": "0000:00:04.0", "mac": "{PUB_MAC}"{}}},
    {{"type": "disk", "bus": "virtio", "serial": "vol-1", "path": "/dev/vdb"}}
  ]}}"#,
        tag("internal"),
        tag("public")
    )
}

pub fn network_data() -> String {
    format!(
        r#"{{"links": [
    {{"id": "tap-int", "ethernet_mac_address": "{INT_MAC}", "mtu": 1450, "type": "ovs", "vif_id": "a"}},
    {{"id": "tap-pub", "ethernet_mac_address": "{PUB_MAC}", "mtu": 1450, "type": "ovs", "vif_id": "b"}}],
  "networks": [
    {{"id": "network0", "type": "ipv4", "link": "tap-pub", "ip_address": "192.168.10.5",
      "netmask": "255.255.255.0", "network_id": "n0",
      "routes": [{{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "192.168.10.1"}}]}},
    {{"id": "network1", "type": "ipv4", "link": "tap-int", "ip_address": "10.0.0.1",
      "netmask": "255.255.255.0", "network_id": "n1",
      "routes": [{{"network": "10.42.0.0", "netmask": "255.255.0.0", "gateway": "10.0.0.254"}},
                 {{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "10.0.0.254"}}]}}],
  "services": [{{"type": "dns", "address": "10.0.0.254"}}]}}"#
    )
}

pub fn write_drive(dir: &Path, tags: bool, network: &str) {
    write(
        &dir.join("openstack/latest/meta_data.json"),
        &meta_data(tags),
    );
    write(&dir.join("openstack/latest/network_data.json"), network);
}

/// `parvis net plan --config DIR/parvis.toml EXTRA…` inside the appliance.
pub fn net_plan(rig: &Rig, extra: &[&str]) -> Output {
    let config = rig.dir.path().join("parvis.toml");
    let mut cmd = rig.app().command(&support::parvis_exe().to_string_lossy());
    cmd.args(["net", "plan", "--config"])
        .arg(&config)
        .args(extra);
    match cmd.output() {
        Ok(out) => out,
        Err(e) => panic!("cannot run parvis: {e}"),
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn json(ns: &Ns, args: &[&str]) -> Value {
    let mut full = vec!["-j"];
    full.extend_from_slice(args);
    match ns.ip(&full).map(|o| serde_json::from_slice(&o.stdout)) {
        Ok(Ok(v)) => v,
        other => panic!("ip -j {args:?}: {other:?}"),
    }
}

/// Checks a role's NIC: MAC, MTU, state and IPv4 address.
pub fn assert_nic(rig: &Rig, name: &str, mac: &str, addr: &str) {
    let link = &json(rig.app(), &["addr", "show", "dev", name])[0];
    assert_eq!(link["address"], mac, "{name}: {link}");
    assert_eq!(link["mtu"], 1450, "{name}: {link}");
    assert_eq!(link["operstate"], "UP", "{name}: {link}");
    let v4: Vec<String> = link["addr_info"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["family"] == "inet")
        .map(|a| format!("{}/{}", a["local"].as_str().unwrap_or("?"), a["prefixlen"]))
        .collect();
    assert_eq!(v4, [addr], "{name}: {link}");
}

pub fn has_route(routes: &Value, dst: &str, via: &str, dev: &str) -> bool {
    routes
        .as_array()
        .into_iter()
        .flatten()
        .any(|r| r["dst"] == dst && r["gateway"] == via && r["dev"] == dev)
}

pub fn assert_configured(rig: &Rig) {
    assert_nic(rig, &rig.public, PUB_MAC, "192.168.10.5/24");
    assert_nic(rig, &rig.internal, INT_MAC, "10.0.0.1/24");
    let routes = json(rig.app(), &["route"]);
    assert!(
        has_route(&routes, "default", "192.168.10.1", &rig.public),
        "{routes}"
    );
    assert!(
        has_route(&routes, "10.42.0.0/16", "10.0.0.254", &rig.internal),
        "{routes}"
    );
    let defaults = routes.as_array().into_iter().flatten();
    assert_eq!(
        defaults.filter(|r| r["dst"] == "default").count(),
        1,
        "{routes}"
    );
    // Each address is on the wire of its gateway.
    for gw in ["192.168.10.1", "10.0.0.254"] {
        if let Err(e) = rig.app().run(&["ping", "-c1", "-W2", gw]) {
            panic!("ping {gw} from the appliance: {e}");
        }
    }
}

pub fn set_config(rig: &Rig, interfaces: &str) {
    write(
        &rig.dir.path().join("parvis.toml"),
        &format!(
            "{interfaces}\n[[forward]]\nproto = \"tcp\"\nport = 2222\nto = \"10.0.0.20:22\"\n"
        ),
    );
}
