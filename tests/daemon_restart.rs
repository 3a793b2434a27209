//! A first version that fails for a passing reason is tried again at the
//! next start: with the HTTPS port taken, the daemon runs the safe default;
//! once the port is free, a restart puts the real config in force.

mod e2e_support;

use std::time::Duration;

use e2e_support::*;
use parvis::lab::{appliance, FLOATING_IP};

fn status(topo: &parvis::lab::Topology, socket: &std::path::Path) -> serde_json::Value {
    let mut cmd = topo.appliance().command(&parvis_exe().to_string_lossy());
    cmd.args(["status", "--json", "--socket"]).arg(socket);
    let out = cmd.output().unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"))
}

/// Stops the daemon as systemd would (SIGTERM, by its PID) and waits.
fn stop(mut daemon: appliance::Daemon) {
    let pid = daemon.child.id().to_string();
    let out = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.status.success(), "{out:?}");
    let _ = daemon.child.child_mut().wait();
    let _ = std::fs::remove_file(&daemon.socket);
}

#[test]
fn a_version_that_failed_at_first_start_is_retried_at_the_next() {
    let (topo, _ingresses, dir) = bare_lab("retry");
    let state = dir.join("state");
    let text = appliance::config(&topo, &state);
    // Another program holds the HTTPS port while the daemon starts.
    let squatter = topo
        .appliance()
        .spawn(&[
            "socat",
            "TCP-LISTEN:443,bind=0.0.0.0,fork",
            "SYSTEM:echo squatter",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
    wait_tcp(topo.appliance(), std::net::Ipv4Addr::LOCALHOST, 443);
    let first = appliance::start_daemon(&topo, &parvis_exe(), &dir, &text)
        .unwrap_or_else(|e| panic!("daemon: {e}"));
    let v = status(&topo, &first.socket);
    let warnings = v["warnings"].to_string();
    assert!(
        warnings.contains("safe default") && warnings.contains("443"),
        "the first start must fail on the taken port: {v}"
    );
    stop(first);
    drop(squatter);
    std::thread::sleep(Duration::from_millis(300));
    // The cause is gone: the next start applies the file's version again.
    let second = appliance::start_daemon(&topo, &parvis_exe(), &dir, &text)
        .unwrap_or_else(|e| panic!("daemon: {e}"));
    let v = status(&topo, &second.socket);
    assert!(
        !v["warnings"].to_string().contains("safe default"),
        "still on the safe default after the port was freed: {v}"
    );
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
    assert!(body.starts_with("ingress=ingress1 client="), "{body}");
    let mut history = topo.appliance().command(&parvis_exe().to_string_lossy());
    history
        .args(["history", "--json", "--socket"])
        .arg(&second.socket);
    let out = history.output().unwrap_or_else(|e| panic!("{e}"));
    let h = String::from_utf8_lossy(&out.stdout);
    assert!(h.contains("retry of version 1"), "{h}");
    stop(second);
    let _ = std::fs::remove_dir_all(&dir);
}
