//! The image's first-boot script, run against a temporary root (its
//! functions, sourced; not the disk, keys or hostname parts): user data
//! that names a foreign `state_dir` gets nothing created or re-owned, and
//! network_data.json values cannot inject networkd directives. Needs root
//! (it hands files to another user, `daemon`, standing in for `_parvis`).
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
const META: &str = r#"{"uuid":"u-1","hostname":"edge-test","devices":[
  {"type":"nic","mac":"fa:16:3e:00:00:01","tags":["public"]}]}"#;
const NET: &str = r#"{"links":[{"id":"tap1","ethernet_mac_address":"fa:16:3e:00:00:01","mtu":1450,"type":"ovs"}],
 "networks":[{"id":"n1","link":"tap1","type":"ipv4","ip_address":"192.168.10.5","netmask":"255.255.255.0",
   "routes":[{"network":"0.0.0.0","netmask":"0.0.0.0","gateway":"GW"}]}]}"#;

struct Root {
    dir: tempfile::TempDir,
}

impl Root {
    fn new(user_data: &str, gateway: &str) -> Root {
        let dir = tempfile::tempdir().unwrap();
        let meta = dir.path().join("var/lib/parvis/metadata/openstack/latest");
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::create_dir_all(dir.path().join("etc/parvis")).unwrap();
        std::fs::write(meta.join("meta_data.json"), META).unwrap();
        std::fs::write(meta.join("network_data.json"), NET.replace("GW", gateway)).unwrap();
        std::fs::write(meta.join("user_data"), user_data).unwrap();
        Root { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Runs `network_files` and `apply_user_data`; returns what they said.
    fn run(&self) -> String {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("image/parvis-firstboot.sh");
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source '{}' && network_files && apply_user_data",
                script.display()
            ))
            .env("PARVIS_FIRSTBOOT_ROOT", self.dir.path())
            .env("PARVIS_BIN", env!("CARGO_BIN_EXE_parvis"))
            .env("PARVIS_DAEMON_USER", "daemon")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn config(state_dir: &Path) -> String {
    format!(
        "# parvis-admin-hash: {HASH}\n[appliance]\nstate_dir = \"{}\"\n[[forward]]\nport = 2222\nto = \"10.0.0.20:22\"\n",
        state_dir.display()
    )
}

fn uid_of(name: &str) -> u32 {
    let out = Command::new("id").args(["-u", name]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn assert_untouched(victim: &Path) {
    let m = std::fs::metadata(victim).unwrap();
    assert_eq!((m.uid(), m.mode() & 0o777), (0, 0o755), "victim re-owned");
    assert!(!victim.join("admin.passwd").exists(), "hash written there");
}

fn victim() -> tempfile::TempDir {
    let v = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        v.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    v
}

#[test]
fn invalid_user_data_does_not_choose_the_state_dir() {
    let victim = victim();
    // Refused by `parvis check` (an unknown key), but with a state_dir line.
    let ud = config(victim.path()) + "[bogus]\nx = 1\n";
    let root = Root::new(&ud, "192.168.10.1");
    let said = root.run();
    assert!(said.contains("not a valid parvis config"), "{said}");
    assert_untouched(victim.path());
    // The hash goes to the default state folder instead.
    let stored = root.path("var/lib/parvis/admin.passwd");
    assert_eq!(std::fs::read_to_string(&stored).unwrap().trim(), HASH);
    assert_eq!(std::fs::metadata(&stored).unwrap().uid(), uid_of("daemon"));
}

#[test]
fn a_valid_config_may_only_hand_over_the_state_tree() {
    let victim = victim();
    let root = Root::new(&config(victim.path()), "192.168.10.1");
    let said = root.run();
    assert!(said.contains("installed"), "{said}");
    assert!(
        said.contains("not a directory the daemon may own"),
        "{said}"
    );
    assert_untouched(victim.path());
    // Below the state folder is fine.
    let root2 = Root::new("", "192.168.10.1");
    let node = root2.path("var/lib/parvis/node-a");
    std::fs::write(
        root2.path("var/lib/parvis/metadata/openstack/latest/user_data"),
        config(&node),
    )
    .unwrap();
    let said = root2.run();
    assert!(said.contains("stored in"), "{said}");
    let m = std::fs::metadata(&node).unwrap();
    assert_eq!(m.uid(), uid_of("daemon"));
    assert!(node.join("admin.passwd").exists());
}

#[test]
fn network_values_cannot_inject_directives() {
    let ud = config(Path::new("/var/lib/parvis"));
    let good = Root::new(&ud, "192.168.10.1");
    let said = good.run();
    assert!(
        said.contains("port fa:16:3e:00:00:01 (tap1, public): 192.168.10.5/24"),
        "{said}"
    );
    let file = good.path("etc/systemd/network/10-parvis-fa163e000001.network");
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains("\n[Route]\nGateway=192.168.10.1\n"), "{text}");
    // A newline in the gateway: no file at all (DHCP), and the reason.
    let bad = Root::new(&ud, "192.168.10.1\\n[Network]\\nDNS=203.0.113.66");
    let said = bad.run();
    assert!(said.contains("network_data.json refused"), "{said}");
    assert!(said.contains("routes[0].gateway"), "{said}");
    let dir = bad.path("etc/systemd/network");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(files.is_empty(), "{files:?}");
}
