//! Where the metadata comes from, as root in lab namespaces: the metadata
//! service at the link-local address (the lab's `attach_metadata` peer),
//! an unreachable service (an empty lab namespace), and a config-drive
//! image mounted read-only.

mod net_rig;
mod support;

use std::process::{Command, Stdio};

use net_rig::*;
use parvis::lab::Ns;

#[test]
fn metadata_service_at_the_link_local_address() {
    let rig = rig("mds");
    let _md = rig
        .lab
        .attach_metadata(rig.dir.path())
        .unwrap_or_else(|e| panic!("metadata service: {e}"));
    support::wait_tcp(rig.app(), std::net::Ipv4Addr::new(169, 254, 169, 254), 80);
    let out = net_plan(&rig, &[]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(
        stdout.contains("# metadata: metadata service at 169.254.169.254:80"),
        "{stdout}"
    );
    assert_configured(&rig);
    // The metadata link keeps its link-local address.
    let md0 = json(rig.app(), &["addr", "show", "dev", "md0"]);
    assert_eq!(md0[0]["addr_info"][0]["local"], "169.254.0.2", "{md0}");
}

#[test]
fn unreachable_metadata_service_is_a_clear_error() {
    support::require_root();
    let ns = match Ns::create(&format!("pv-{}-mdx", std::process::id())) {
        Ok(ns) => ns,
        Err(e) => panic!("{e}"),
    };
    // A namespace with no route to 169.254.169.254 and no config drive.
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    };
    let config = dir.path().join("parvis.toml");
    write(
        &config,
        "[interfaces.public]\n[[forward]]\nproto = \"tcp\"\nport = 2222\nto = \"10.0.0.20:22\"\n",
    );
    let out = match ns
        .command(&support::parvis_exe().to_string_lossy())
        .args(["net", "plan", "--dry-run", "--config"])
        .arg(&config)
        .output()
    {
        Ok(o) => o,
        Err(e) => panic!("{e}"),
    };
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("metadata service http://169.254.169.254:80/openstack/latest/meta_data.json: cannot connect"),
        "{stderr}"
    );
    assert!(!out.status.success(), "{stderr}");
}

#[test]
fn config_drive_image_is_mounted_read_only_and_released() {
    support::require_root();
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    };
    let tree = dir.path().join("tree");
    write_drive(&tree, true, &network_data());
    write(&tree.join("openstack/latest/user_data"), "[admin]\nallow = [\"198.51.100.0/24\"]\n[[forward]]\nproto = \"tcp\"\nport = 2222\nto = \"10.0.0.20:22\"\n");
    // This kernel mounts neither iso9660 nor vfat, so the drive is ext4;
    // the reader does not care which filesystem carries the label.
    let image = dir.path().join("config-2.img");
    let made = Command::new("mkfs.ext4")
        .stdout(Stdio::null())
        .args(["-q", "-L", "config-2", "-d"])
        .arg(&tree)
        .arg(&image)
        .arg("4M")
        .status();
    assert!(made.is_ok_and(|s| s.success()), "mkfs.ext4 failed");
    let meta = match parvis::net::metadata::read_config_drive(&image) {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(meta.network.links.len(), 2);
    let first = parvis::net::metadata::first_config(&meta);
    assert_eq!(first.reason, "first config taken from the user data");
    assert_eq!(first.config.admin.allow.len(), 1);
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    assert!(
        !mounts.contains("parvis-config-drive"),
        "still mounted: {mounts}"
    );
}
