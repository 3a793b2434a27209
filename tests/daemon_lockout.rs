//! The lock-out safety net outside the UI: `parvis apply` over SSH (the
//! CLI sends the SSH client's address from `SSH_CONNECTION`) and SIGHUP
//! (the peers of the established admin and SSH connections stand for the
//! caller). Root, the real daemon in the lab.

mod attack_support;
mod e2e_support;

use e2e_support::*;

#[test]
fn an_apply_over_ssh_that_cuts_the_ssh_client_is_refused() {
    let lab = lab();
    let narrowed = lab.config_text().replace(
        "allow = [\"198.51.100.0/24\"]",
        "allow = [\"192.168.10.0/24\"]",
    );
    assert_ne!(narrowed, lab.config_text());
    let file = lab.write("narrowed.toml", &narrowed);
    let mut cmd = lab
        .topo
        .appliance()
        .command(&parvis_exe().to_string_lossy());
    cmd.args(["apply", "--config", &file.to_string_lossy(), "--socket"])
        .arg(&lab.daemon.socket)
        .env("SSH_CONNECTION", "198.51.100.10 50022 192.168.10.5 22");
    let out = cmd.output().unwrap_or_else(|e| panic!("{e}"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "applied over SSH: {out:?}");
    assert!(err.contains("198.51.100.10"), "{err}");
    // Not over SSH (a local root shell, the console): no source, applied.
    let local = lab.cli(&["apply", "--config", &file.to_string_lossy()]);
    assert!(local.status.success(), "{local:?}");
}

/// The daemon's event log, over the control socket.
fn events(lab: &Lab) -> String {
    let socket = lab.daemon.socket.to_string_lossy().into_owned();
    curl(
        lab.topo.appliance(),
        &["--unix-socket", &socket, "http://parvis/api/v1/events"],
    )
}

fn versions(lab: &Lab) -> usize {
    let out = lab.cli(&["history", "--json"]);
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("history: {e}: {out:?}"));
    v.as_array().map_or(0, Vec::len)
}

fn hup(lab: &Lab) {
    let pid = lab.daemon.child.id().to_string();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status();
    assert!(hup.is_ok_and(|s| s.success()), "kill -HUP {pid}");
}

/// A SIGHUP has no caller: the peers of the established admin and SSH
/// connections stand for it. A file that would cut the admin's open
/// session off is refused and logged; once that session is closed, the
/// same file is applied (it cuts nobody connected).
#[test]
fn a_sighup_that_cuts_an_open_admin_session_is_refused() {
    let lab = lab();
    let fip = parvis::lab::FLOATING_IP.to_string();
    let (mut session, first) = attack_support::Session::open(lab.topo.client(), &fip, 8443);
    assert!(first.starts_with("HTTP/1.1 401"), "session opened: {first}");
    let before = versions(&lab);
    let narrowed = lab.config_text().replace(
        "allow = [\"198.51.100.0/24\"]",
        "allow = [\"192.168.10.0/24\"]",
    );
    assert_ne!(narrowed, lab.config_text());
    std::fs::write(&lab.daemon.config, &narrowed).unwrap_or_else(|e| panic!("{e}"));
    hup(&lab);
    let refused = eventually(10, || events(&lab).contains("SIGHUP reload refused"));
    let log = events(&lab);
    assert!(refused, "no refusal logged: {log}");
    assert!(
        log.contains("198.51.100.10, the address of an established admin or SSH connection"),
        "{log}"
    );
    assert!(log.contains("parvis apply --force"), "{log}");
    assert_eq!(versions(&lab), before, "nothing applied");
    assert_eq!(session.again(), "HTTP/1.1 401 Unauthorized", "open session");
    drop(session);
    // Nobody from the cut address is connected any more: applied.
    let closed = eventually(5, || !established_to_8443(&lab));
    assert!(closed, "the session did not close");
    hup(&lab);
    assert!(
        eventually(10, || versions(&lab) == before + 1),
        "the file was not applied once no session was cut: {}",
        events(&lab)
    );
}

/// Whether the appliance still holds an established connection on 8443.
fn established_to_8443(lab: &Lab) -> bool {
    let out = lab
        .topo
        .appliance()
        .run(&["ss", "-Htn", "state", "established", "( sport = :8443 )"])
        .unwrap_or_else(|e| panic!("ss: {e}"));
    !String::from_utf8_lossy(&out.stdout).trim().is_empty()
}
