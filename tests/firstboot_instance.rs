//! The image's first-boot script against a temporary root (its functions,
//! sourced): the metadata service is retried with backoff until it answers
//! (a stand-in on loopback that fails N times first), first boot is marked
//! done only once it was read, and "provisioned" is keyed on the instance
//! id: another id (a snapshot of another appliance) makes new SSH host
//! keys, admin certificate and state. And the script parses no JSON itself.
//! Needs root (files handed to `daemon`, standing in for `_parvis`).
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const META: &str = r#"{"uuid":"ID","hostname":"edge-test","public_keys":{"k":"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK0 op@parish"}}"#;
const USER_DATA: &str = "[[forward]]\nport = 2222\nto = \"10.0.0.20:22\"\n";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("image/parvis-firstboot.sh")
}

/// Runs `commands` after sourcing the script, with `root` as its root.
fn run(root: &Path, commands: &str, service: Option<SocketAddr>) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(format!("source '{}' && {commands}", script().display()))
        .env("PARVIS_FIRSTBOOT_ROOT", root)
        .env("PARVIS_BIN", env!("CARGO_BIN_EXE_parvis"))
        .env("PARVIS_DAEMON_USER", "daemon")
        .env("PARVIS_ADMIN_USER", "daemon")
        .env("PARVIS_FETCH_FIRST_DELAY_MS", "50");
    if let Some(s) = service {
        cmd.env("PARVIS_METADATA_SERVICE", s.to_string());
    }
    cmd.output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn new_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for d in [
        "etc/parvis",
        "etc/ssh",
        "etc/systemd/network",
        "var/lib/parvis",
        "run",
    ] {
        std::fs::create_dir_all(dir.path().join(d)).unwrap();
    }
    dir
}

/// A metadata service on loopback that drops the first `fail` connections
/// without an answer, then serves the documents of instance `id`.
fn stand_in(fail: usize, id: &str) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    let meta = META.replace("ID", id);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 2048];
            let n = s.read(&mut buf).unwrap_or(0);
            if count.fetch_add(1, Ordering::SeqCst) < fail {
                continue; // dropped: the client reads no answer
            }
            let req = String::from_utf8_lossy(&buf[..n]);
            let path = req
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_string();
            let body = match path.as_str() {
                "/openstack/latest/meta_data.json" => Some(meta.clone()),
                "/openstack/latest/user_data" => Some(USER_DATA.to_string()),
                _ => None,
            };
            let answer = match body {
                Some(b) => format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
                    b.len()
                ),
                None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .into(),
            };
            let _ = s.write_all(answer.as_bytes());
        }
    });
    (addr, seen)
}

#[test]
fn the_metadata_service_is_retried_until_it_answers_and_only_then_done() {
    let root = new_root();
    let done = root.path().join("var/lib/parvis/.firstboot-done");
    // A service that never answers, with a bounded number of attempts (a
    // reboot): not read, nothing marked done.
    let (dead, _) = stand_in(usize::MAX, "u-1");
    let out = run(root.path(), "read_service 2 && provision", Some(dead));
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("attempt 1 failed") && said.contains("giving up"),
        "{said}"
    );
    assert!(!done.exists(), "marked done without metadata");

    // First boot (0: until read): three failures, then the answer.
    let (flaky, seen) = stand_in(3, "u-1");
    let out = run(root.path(), "read_service 0 && provision", Some(flaky));
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    for line in [
        "metadata service: attempt 1 failed",
        "next try in 50 ms",
        "metadata service: attempt 3 failed",
        "next try in 200 ms",
        "metadata service read after 4 attempt(s)",
        "hostname edge-test",
        "1 SSH key(s) installed for user daemon",
        "parvis config from user data installed",
        "done: instance u-1 provisioned",
    ] {
        assert!(said.contains(line), "missing {line:?} in:\n{said}");
    }
    assert!(
        seen.load(Ordering::SeqCst) >= 6,
        "three failures, then three documents"
    );
    assert_eq!(std::fs::read_to_string(&done).unwrap().trim(), "u-1");
    let meta = root.path().join("var/lib/parvis/metadata/openstack/latest");
    assert!(std::fs::read_to_string(meta.join("meta_data.json"))
        .unwrap()
        .contains("u-1"));
    assert!(!meta.join("network_data.json").exists(), "404 is no file");
}

fn host_key(root: &Path) -> String {
    std::fs::read_to_string(root.join("etc/ssh/ssh_host_ed25519_key.pub")).unwrap()
}

#[test]
fn a_new_instance_id_makes_new_host_keys_certificate_and_state() {
    let root = new_root();
    let meta = root.path().join("var/lib/parvis/metadata/openstack/latest");
    std::fs::create_dir_all(&meta).unwrap();
    std::fs::write(meta.join("meta_data.json"), META.replace("ID", "u-1")).unwrap();
    std::fs::write(meta.join("user_data"), USER_DATA).unwrap();
    let out = run(root.path(), "provision", None);
    assert!(out.status.success(), "{}", text(&out));
    let first_key = host_key(root.path());
    // What the original appliance made while it ran.
    let state = root.path().join("var/lib/parvis");
    for f in [
        "admin.crt",
        "admin.key",
        "admin.passwd",
        "config/1.toml",
        "tokens.json",
    ] {
        let p = state.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, "original").unwrap();
    }

    // A reboot of the same instance: nothing is touched.
    let out = run(root.path(), "provision", None);
    assert!(
        !out.status.success(),
        "provision returns 1 when nothing is to do"
    );
    assert!(
        text(&out).contains("instance u-1 already provisioned"),
        "{}",
        text(&out)
    );
    assert_eq!(host_key(root.path()), first_key);
    assert!(state.join("admin.crt").exists());

    // The disk boots as another instance (a snapshot of this one).
    std::fs::write(meta.join("meta_data.json"), META.replace("ID", "u-2")).unwrap();
    let out = run(root.path(), "provision", None);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("instance id changed (u-1 -> u-2)"), "{said}");
    assert_ne!(
        host_key(root.path()),
        first_key,
        "the original's host key kept"
    );
    for f in [
        "admin.crt",
        "admin.key",
        "admin.passwd",
        "config",
        "tokens.json",
    ] {
        assert!(!state.join(f).exists(), "{f} of the original kept");
    }
    assert!(
        meta.join("meta_data.json").exists(),
        "the metadata was removed"
    );
    assert!(root.path().join("etc/parvis/parvis.toml").exists());
    let done = std::fs::read_to_string(state.join(".firstboot-done")).unwrap();
    assert_eq!(done.trim(), "u-2");
}

/// The script reads no JSON itself: every value comes from `parvis
/// firstboot` (one parser, in Rust).
#[test]
fn the_script_keeps_no_second_json_parser() {
    let text = std::fs::read_to_string(script()).unwrap();
    for (n, line) in text.lines().enumerate() {
        let code = line.split('#').next().unwrap_or_default();
        let words: Vec<&str> = code
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .collect();
        for parser in ["jq", "python3", "python"] {
            assert!(!words.contains(&parser), "line {}: {line}", n + 1);
        }
    }
}
