//! One contender's runs: start it, drive the client through each mode,
//! read its memory, stop it.
//!
//! Does I/O: child processes in the lab namespaces, `/proc`, `prlimit`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use parvis::lab::{ChildGuard, Topology};
use serde_json::Value;

use crate::peers::{self, Contender, Running, BULK_HOST, HELLO_HOST, IDLE_HOST};
use crate::report::Figures;
use crate::Settings;

/// Pause between runs, so that one run's closing connections do not
/// weigh on the next.
const SETTLE: Duration = Duration::from_secs(2);
/// How long opening the idle connections may take.
const IDLE_TIMEOUT: Duration = Duration::from_secs(180);

/// Raises this process's soft open-files limit to its hard limit
/// (20,000 here); every child inherits it. Best effort.
pub fn raise_open_files() {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let hard = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(4).map(str::to_owned));
    if let Some(hard) = hard {
        let pid = std::process::id().to_string();
        let status = std::process::Command::new("prlimit")
            .args(["--pid", &pid, &format!("--nofile={hard}:{hard}")])
            .status();
        if !status.is_ok_and(|s| s.success()) {
            eprintln!("warning: could not raise the open-files limit to {hard}");
        }
    }
}

/// Runs every measurement against `who`; failures become notes.
pub fn contender(who: Contender, topo: &Topology, dir: &Path, s: &Settings) -> Figures {
    let mut f = Figures {
        name: who.name().into(),
        ..Figures::default()
    };
    let running = match peers::start(who, topo, dir, &s.parvis) {
        Ok(r) => r,
        Err(e) => {
            f.notes.push(format!("did not start: {e}"));
            return f;
        }
    };
    let secs = s.secs.to_string();
    let run = |mode: &str, host: &str, param: u64| {
        let addr = who.target(host).to_string();
        let args = ["--client", mode, &addr, host, &secs, &param.to_string()];
        let r = client(topo, &s.exe, &args);
        std::thread::sleep(SETTLE);
        r
    };
    match run("rate", HELLO_HOST, s.workers) {
        Ok(v) => {
            f.conn_rate = v["per_sec"].as_f64();
            f.conn_errors = v["errors"].as_u64().unwrap_or(0);
        }
        Err(e) => f.notes.push(format!("conn/s: {e}")),
    }
    for conns in [1, 64] {
        match run("bulk", BULK_HOST, conns) {
            Ok(v) => {
                let mbs = v["mb_per_sec"].as_f64();
                *(if conns == 1 {
                    &mut f.bulk1
                } else {
                    &mut f.bulk64
                }) = mbs;
                f.bulk_failed += v["failed"].as_u64().unwrap_or(0);
            }
            Err(e) => f.notes.push(format!("bulk: {e}")),
        }
    }
    match run("latency", HELLO_HOST, s.rate) {
        Ok(v) => {
            (f.p50, f.p99) = (v["p50_ms"].as_f64(), v["p99_ms"].as_f64());
            f.lat_errors = v["errors"].as_u64().unwrap_or(0);
        }
        Err(e) => f.notes.push(format!("latency: {e}")),
    }
    f.rss_before = rss_mib(&running);
    if running.pid.is_some() && s.idle > 0 {
        match idle(who, topo, &s.exe, s.idle, &running) {
            Ok((n, rss)) => (f.idle, f.rss_idle) = (n, rss),
            Err(e) => f.notes.push(format!("idle: {e}")),
        }
    }
    drop(running);
    std::thread::sleep(SETTLE);
    f
}

/// Runs this binary with `args` in the client namespace; its JSON output.
fn client(topo: &Topology, exe: &Path, args: &[&str]) -> Result<Value, String> {
    let exe = exe.to_string_lossy();
    let mut full = vec![exe.as_ref()];
    full.extend_from_slice(args);
    let out = topo.client().run(&full).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_default();
    serde_json::from_str(last).map_err(|e| format!("client printed {last:?}: {e}"))
}

/// Opens `count` idle connections through `who`, reads the forwarder's
/// memory while they are open, then lets the client close them.
fn idle(
    who: Contender,
    topo: &Topology,
    exe: &Path,
    count: u64,
    running: &Running,
) -> Result<(u64, Option<f64>), String> {
    let addr = who.target(IDLE_HOST).to_string();
    let mut cmd = topo.client().command(&exe.to_string_lossy());
    cmd.args([
        "--client",
        "idle",
        &addr,
        IDLE_HOST,
        "0",
        &count.to_string(),
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::piped());
    let mut guard = ChildGuard::spawn(cmd).map_err(|e| e.to_string())?;
    let stdout = guard.child_mut().stdout.take().ok_or("no stdout pipe")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(IDLE_TIMEOUT)
        .map_err(|_| "idle connections not open within 180 s")?;
    let v: Value = serde_json::from_str(line.trim()).map_err(|e| format!("{line:?}: {e}"))?;
    // Let allocations settle (buffers handed back after the hello).
    std::thread::sleep(Duration::from_secs(1));
    let rss = rss_mib(running);
    // Closing stdin tells the client to close its connections and exit.
    drop(guard.child_mut().stdin.take());
    let _ = guard.child_mut().wait();
    Ok((v["established"].as_u64().unwrap_or(0), rss))
}

/// Resident memory of the forwarder (plus its children for nginx), MiB.
pub fn rss_mib(r: &Running) -> Option<f64> {
    let pid = r.pid?;
    let mut pids = vec![pid];
    if r.with_children {
        pids.extend(children(pid));
    }
    let kib: u64 = pids.iter().filter_map(|p| vm_rss_kib(*p)).sum();
    Some(kib as f64 / 1024.0)
}

fn children(pid: u32) -> Vec<u32> {
    let path = format!("/proc/{pid}/task/{pid}/children");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}
