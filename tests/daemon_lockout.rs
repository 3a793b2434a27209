//! The lock-out safety net for `parvis apply` over SSH: the CLI sends the
//! SSH client's address (from `SSH_CONNECTION`), and a config that would
//! cut that address off is refused as it is from the UI.

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
