//! The login guard under attack, against the real daemon in the lab:
//! parallel wrong passwords from one source are refused as throttled
//! instead of each getting an argon2 check, and parallel guesses from many
//! sources share a few check slots, so the daemon's memory stays bounded.

mod e2e_support;

use std::process::{Child, Stdio};

use e2e_support::*;
use parvis::lab::FLOATING_IP;

/// The daemon's resident memory, in KiB, from `/proc/PID/status`.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("status of {pid}: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in {status}"))
}

/// Starts a wrong-password login from `source`; prints the HTTP status.
fn guess(lab: &Lab, source: &str) -> Child {
    let mut cmd = lab.topo.client().command("curl");
    cmd.args([
        "-sk",
        "--max-time",
        "60",
        "--interface",
        source,
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"username":"admin","password":"not-the-password"}"#,
        &format!("https://{FLOATING_IP}:8443/api/v1/session"),
    ]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    cmd.spawn().unwrap_or_else(|e| panic!("curl: {e}"))
}

fn statuses(children: Vec<Child>) -> Vec<String> {
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
        .collect()
}

fn count(list: &[String], code: &str) -> usize {
    list.iter().filter(|s| *s == code).count()
}

#[test]
fn parallel_wrong_logins_are_throttled_and_memory_stays_bounded() {
    let lab = lab();
    let pid = lab.daemon.child.id();
    // One source, forty guesses at once.
    let before = rss_kib(pid);
    let one: Vec<Child> = (0..40).map(|_| guess(&lab, "198.51.100.10")).collect();
    let one = statuses(one);
    let after_one = rss_kib(pid);
    let (checked, throttled) = (count(&one, "401"), count(&one, "429"));
    eprintln!(
        "one source: {checked} checked, {throttled} throttled; RSS {before} -> {after_one} KiB"
    );
    assert_eq!(checked + throttled, 40, "{one:?}");
    assert!(
        checked <= 10 && throttled >= 30,
        "forty parallel guesses from one address: {checked} got a password check"
    );
    // Forty sources, one guess each: the global cap on checks holds.
    let dev = "eth0";
    let sources: Vec<String> = (20..60).map(|i| format!("198.51.100.{i}")).collect();
    for s in &sources {
        let out = lab
            .topo
            .client()
            .command("ip")
            .args(["addr", "add", &format!("{s}/24"), "dev", dev])
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(out.status.success(), "ip addr add {s}: {out:?}");
    }
    let many: Vec<Child> = sources.iter().map(|s| guess(&lab, s)).collect();
    let many = statuses(many);
    let after_many = rss_kib(pid);
    eprintln!(
        "forty sources: {} checked, {} busy, {} throttled; RSS {before} -> {after_many} KiB",
        count(&many, "401"),
        count(&many, "503"),
        count(&many, "429")
    );
    assert_eq!(
        count(&many, "401") + count(&many, "503"),
        40,
        "every guess is answered: {many:?}"
    );
    // Each argon2 check holds about 19 MiB: forty at once would be ~760 MiB.
    let grown = after_many.saturating_sub(before);
    assert!(
        grown < 150 * 1024,
        "RSS grew by {grown} KiB under forty parallel checks"
    );
    // The right password still works afterwards from a fresh source.
    let (_, csrf) = lab.login("jar");
    assert!(!csrf.is_empty());
}
