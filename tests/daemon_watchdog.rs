//! The systemd watchdog is fed only while the daemon works. The daemon runs
//! under a notify socket of the test's own with `WATCHDOG_USEC`, as systemd
//! runs it; an apply stuck in a hung `nft` holds the change engine, the
//! pings stop (systemd would restart the daemon), and they come back once
//! `nft` returns. The hung `nft` is a wrapper on `PATH` that waits while a
//! file exists, then runs the real one: a wedged kernel call cannot be made
//! to order here.

mod e2e_support;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::process::Stdio;
use std::time::{Duration, Instant};

use e2e_support::*;
use parvis::lab::{appliance, write_config, ChildGuard};

/// `WATCHDOG=1` datagrams received on `sock` during `secs`.
fn pings(sock: &UnixDatagram, secs: f64) -> usize {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let mut n = 0;
    let mut buf = [0u8; 512];
    while Instant::now() < end {
        if let Ok(len) = sock.recv(&mut buf) {
            if buf[..len]
                .split(|b| *b == b'\n')
                .any(|l| l == b"WATCHDOG=1")
            {
                n += 1;
            }
        }
    }
    n
}

#[test]
fn the_watchdog_is_fed_only_while_the_change_engine_answers() {
    let (topo, _ingresses, dir) = bare_lab("wd");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap_or_else(|e| panic!("{e}"));
    let hang = dir.join("hang");
    let real = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or_else(|| panic!("nft not found"));
    let wrapper = bin.join("nft");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nwhile [ -e '{}' ]; do sleep 0.1; done\nexec {real} \"$@\"\n",
            hang.display()
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("{e}"));
    let notify = dir.join("notify.sock");
    let _ = std::fs::remove_file(&notify);
    let sock = UnixDatagram::bind(&notify).unwrap_or_else(|e| panic!("{e}"));
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap_or_else(|e| panic!("{e}"));

    let text = appliance::config(&topo, &dir.join("state"));
    let config = write_config(&dir, &text).unwrap_or_else(|e| panic!("{e}"));
    let socket = dir.join("control.sock");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = topo.appliance().command(&parvis_exe().to_string_lossy());
    cmd.arg("serve")
        .arg("--config")
        .arg(&config)
        .arg("--socket")
        .arg(&socket)
        .env("NOTIFY_SOCKET", &notify)
        .env("WATCHDOG_USEC", "2000000")
        .env("PATH", &path)
        .stdin(Stdio::null());
    let mut daemon = ChildGuard::spawn(cmd).unwrap_or_else(|e| panic!("{e}"));
    appliance::wait_ready(&mut daemon, &socket).unwrap_or_else(|e| panic!("{e}"));

    let fed = pings(&sock, 3.0);
    assert!(
        fed >= 2,
        "a working daemon pings every second: {fed} in 3 s"
    );

    // nft hangs; an apply that needs the firewall holds the engine.
    std::fs::write(&hang, "").unwrap_or_else(|e| panic!("{e}"));
    let changed = format!(
        "{text}{}",
        "\n[[forward]]\nproto = \"tcp\"\nport = 8099\nto = \"10.0.0.20:8099\"\n"
    );
    let new_config = dir.join("changed.toml");
    std::fs::write(&new_config, &changed).unwrap_or_else(|e| panic!("{e}"));
    let mut apply = topo.appliance().command(&parvis_exe().to_string_lossy());
    apply
        .arg("apply")
        .arg("--config")
        .arg(&new_config)
        .arg("--socket")
        .arg(&socket)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let apply = apply.spawn().unwrap_or_else(|e| panic!("{e}"));
    // One check may have begun before the apply took the engine.
    let _ = pings(&sock, 1.5);
    let starved = pings(&sock, 12.0);
    let daemon_alive = daemon.child_mut().try_wait().ok().flatten().is_none();
    // Release nft before asserting, so a failure leaves nothing hung.
    std::fs::remove_file(&hang).unwrap_or_else(|e| panic!("{e}"));
    let out = apply.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        daemon_alive,
        "the daemon must keep running (systemd decides)"
    );
    assert_eq!(
        starved, 0,
        "no ping while the change engine is stuck in nft for over 10 s (apply: {out:?})"
    );
    assert!(
        out.status.success(),
        "the apply ends once nft returns: {out:?}"
    );
    let back = pings(&sock, 4.0);
    assert!(
        back >= 1,
        "pings come back once the engine answers: {back} in 4 s"
    );
    drop(daemon);
    let _ = std::fs::remove_dir_all(&dir);
}
