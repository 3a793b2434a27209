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
    established_to(lab, 8443)
}

/// Whether the appliance holds an established connection on `port`.
fn established_to(lab: &Lab, port: u16) -> bool {
    let filter = format!("( sport = :{port} )");
    let out = lab
        .topo
        .appliance()
        .run(&["ss", "-Htn", "state", "established", &filter])
        .unwrap_or_else(|e| panic!("ss: {e}"));
    !String::from_utf8_lossy(&out.stdout).trim().is_empty()
}

/// Connects from SRC to DST:PORT and holds the connection for a minute.
const HOLD_ONE: &str = "import socket, sys, time\n\
s = socket.socket()\n\
s.bind((sys.argv[1], 0))\n\
s.connect((sys.argv[2], int(sys.argv[3])))\n\
time.sleep(60)\n";

/// An SSH session outlives a restart of the daemon: a file edited while
/// the daemon was down that would cut the session's peer off is refused at
/// the next start, and the version restored from the store stays in force.
#[test]
fn a_restart_with_a_file_that_cuts_an_open_ssh_session_keeps_the_old_version() {
    let mut lab = lab();
    let app = lab.topo.appliance();
    let public = parvis::lab::APPLIANCE_PUBLIC;
    let sshd = ["socat", "TCP-LISTEN:22,reuseaddr,fork", "SYSTEM:sleep 60"];
    let _sshd = app.spawn(&sshd).unwrap_or_else(|e| panic!("{e}"));
    wait_tcp(app, public, 22);
    let (admin, fip) = (
        parvis::lab::CLIENT.to_string(),
        parvis::lab::FLOATING_IP.to_string(),
    );
    let hold = ["python3", "-c", HOLD_ONE, &admin, &fip, "22"];
    let _ssh = lab
        .topo
        .client()
        .spawn(&hold)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(eventually(5, || established_to(&lab, 22)), "no SSH session");
    assert_eq!(versions(&lab), 1);
    let pid = lab.daemon.child.id().to_string();
    let term = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    assert!(term.is_ok_and(|s| s.success()), "kill -TERM {pid}");
    let _ = lab.daemon.child.child_mut().wait();
    let _ = std::fs::remove_file(&lab.daemon.socket);
    let narrowed = lab.config_text().replace(
        "allow = [\"198.51.100.0/24\"]",
        "allow = [\"192.168.10.0/24\"]",
    );
    let exe = parvis_exe();
    lab.daemon = parvis::lab::appliance::start_daemon(&lab.topo, &exe, &lab.dir, &narrowed)
        .unwrap_or_else(|e| panic!("restart: {e}"));
    assert!(
        established_to(&lab, 22),
        "the SSH session outlived the restart"
    );
    let log = events(&lab);
    assert!(
        log.contains("198.51.100.10, the address of an established admin or SSH connection"),
        "{log}"
    );
    assert_eq!(versions(&lab), 1, "the cutting file was not applied");
    let url = format!("https://{fip}:8443/login");
    let out = lab.client_curl_raw(&["-k", "-o", "/dev/null", "-w", "%{http_code}", &url]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200", "admin port");
}
