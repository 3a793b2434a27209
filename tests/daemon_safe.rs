//! First boot without a usable config: the daemon starts on the safe
//! default (no listener, no forward, SSH open, the admin UI on loopback
//! only), says why in `parvis status`, and takes a real config later.

mod e2e_support;

use std::process::Stdio;
use std::time::Duration;

use e2e_support::*;
use parvis::lab::{appliance, ChildGuard, FLOATING_IP};

#[test]
fn without_a_config_the_daemon_runs_closed_and_takes_one_later() {
    let (topo, _ingresses, dir) = bare_lab("safe");
    let meta = dir.join("metadata/openstack/latest");
    std::fs::create_dir_all(&meta).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        meta.join("meta_data.json"),
        r#"{"uuid": "1", "name": "edge-safe", "hostname": "edge-safe"}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        meta.join("network_data.json"),
        r#"{"links": [], "networks": [], "services": []}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(meta.join("user_data"), "#cloud-config\npackages: [nginx]\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let socket = dir.join("control.sock");
    let mut cmd = topo.appliance().command(&parvis_exe().to_string_lossy());
    cmd.arg("serve")
        .arg("--config")
        .arg(dir.join("missing.toml"));
    cmd.arg("--socket")
        .arg(&socket)
        .arg("--metadata")
        .arg(dir.join("metadata"));
    cmd.arg("--state-dir")
        .arg(dir.join("state"))
        .stdin(Stdio::null());
    let mut daemon = ChildGuard::spawn(cmd).unwrap_or_else(|e| panic!("{e}"));
    appliance::wait_ready(&mut daemon, &socket).unwrap_or_else(|e| panic!("{e}"));
    let cli = |args: &[&str]| {
        let mut c = topo.appliance().command(&parvis_exe().to_string_lossy());
        c.args(args).arg("--socket").arg(&socket);
        c.output().unwrap_or_else(|e| panic!("{e}"))
    };
    let status = cli(&["status", "--json"]);
    let v: serde_json::Value =
        serde_json::from_slice(&status.stdout).unwrap_or_else(|e| panic!("{e}: {status:?}"));
    let warnings = v["warnings"].to_string();
    assert!(
        warnings.contains("safe default") && warnings.contains("cloud-config"),
        "{v}"
    );
    let rules = String::from_utf8_lossy(&cli(&["ruleset"]).stdout).into_owned();
    assert!(
        rules.contains("table inet parvis") && rules.contains("policy drop"),
        "{rules}"
    );
    // SSH is let in from anywhere; the admin UI listens on loopback only.
    let ssh = topo.appliance().spawn(&[
        "socat",
        "TCP-LISTEN:22,fork,reuseaddr",
        "SYSTEM:echo ssh-here",
    ]);
    let _ssh = ssh.unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_millis(300));
    let mut probe = topo.client().command("socat");
    probe
        .args([
            "-T3",
            "-",
            &format!("TCP:{FLOATING_IP}:22,connect-timeout=3"),
        ])
        .stdin(Stdio::null());
    let out = probe.output().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ssh-here"),
        "SSH must stay reachable: {out:?}"
    );
    let admin = curl(
        topo.appliance(),
        &[
            "-sk",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "https://127.0.0.1:8443/login",
        ],
    );
    assert_eq!(admin, "200", "admin UI on loopback");
    let mut outside = topo.client().command("curl");
    outside.args([
        "-sk",
        "--max-time",
        "3",
        &format!("https://{FLOATING_IP}:8443/login"),
    ]);
    let outside = outside.output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        outside.status.code(),
        Some(28),
        "the admin port must not answer outside: {outside:?}"
    );
    // A real config through the CLI: forwarding starts.
    let text = appliance::config(&topo, &dir.join("state"));
    let file = dir.join("real.toml");
    std::fs::write(&file, text).unwrap_or_else(|e| panic!("{e}"));
    let applied = cli(&["apply", "--config", &file.to_string_lossy()]);
    assert!(applied.status.success(), "{applied:?}");
    let host = host_a();
    let body = client_curl(
        &topo,
        &[
            "-k",
            "--resolve",
            &format!("{host}:443:{FLOATING_IP}"),
            &format!("https://{host}/"),
        ],
    );
    assert!(
        body.starts_with("ingress=ingress1 client=198.51.100.10:"),
        "{body}"
    );
    let v: serde_json::Value = serde_json::from_slice(&cli(&["status", "--json"]).stdout)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!v["warnings"].to_string().contains("safe default"), "{v}");
    let _ = std::fs::remove_dir_all(&dir);
}
