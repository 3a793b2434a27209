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

use crate::peers::{self, Contender, BULK_HOST, HELLO_HOST, IDLE_HOST};
use crate::procfs;
use crate::report::Figures;
use crate::running::Running;
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

/// One round against `who`: conn/s, bulk 1 and 64, latency, and (when
/// `with_idle`) memory with idle connections. Failures become notes.
pub fn round(
    who: Contender,
    topo: &Topology,
    dir: &Path,
    s: &Settings,
    with_idle: bool,
) -> Figures {
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
    // A client run, with the forwarder's CPU time (ms) spent meanwhile.
    let run = |mode: &str, host: &str, param: u64| {
        let addr = who.target(host).to_string();
        let args = ["--client", mode, &addr, host, &secs, &param.to_string()];
        let cpu0 = procfs::cpu_ms(&running);
        let r = client(topo, &s.exe, &args);
        let cpu = procfs::cpu_ms(&running).zip(cpu0).map(|(b, a)| b - a);
        std::thread::sleep(SETTLE);
        r.map(|v| (v, cpu))
    };
    match run("rate", HELLO_HOST, s.workers) {
        Ok((v, cpu)) => {
            f.conn_rate = v["per_sec"].as_f64();
            f.conn_errors = v["errors"].as_u64().unwrap_or(0);
            (f.rate_p50, f.rate_p99) = (v["p50_ms"].as_f64(), v["p99_ms"].as_f64());
            let n = v["ok"].as_f64().unwrap_or(0.0) + f.conn_errors as f64;
            f.cpu_kconn = cpu.filter(|_| n > 0.0).map(|ms| ms * 1000.0 / n);
        }
        Err(e) => f.notes.push(format!("conn/s: {e}")),
    }
    for conns in [1, 64] {
        match run("bulk", BULK_HOST, conns) {
            Ok((v, cpu)) => {
                let gb = v["total_bytes"].as_f64().unwrap_or(0.0) / 1e9;
                let per_gb = cpu.filter(|_| gb > 0.0).map(|ms| ms / 1000.0 / gb);
                let mbs = v["mb_per_sec"].as_f64();
                if conns == 1 {
                    (f.bulk1, f.cpu_gb1) = (mbs, per_gb);
                } else {
                    (f.bulk64, f.cpu_gb64) = (mbs, per_gb);
                }
                f.bulk_failed += v["failed"].as_u64().unwrap_or(0);
            }
            Err(e) => f.notes.push(format!("bulk: {e}")),
        }
    }
    match run("latency", HELLO_HOST, s.rate) {
        Ok((v, _)) => {
            (f.p50, f.p99) = (v["p50_ms"].as_f64(), v["p99_ms"].as_f64());
            f.lat_errors = v["errors"].as_u64().unwrap_or(0);
        }
        Err(e) => f.notes.push(format!("latency: {e}")),
    }
    if with_idle && running.pid.is_some() && s.idle > 0 {
        f.rss_before = procfs::rss_mib(&running);
        match idle(who, topo, &s.exe, s.idle, &running) {
            Ok((n, rss)) => (f.idle, f.rss_idle) = (n, rss),
            Err(e) => f.notes.push(format!("idle: {e}")),
        }
        if f.idle < s.idle {
            f.notes.push(format!(
                "idle: {} of {} connections established",
                f.idle, s.idle
            ));
        }
        if f.rss_before.is_none() || f.rss_idle.is_none() {
            let pid = running.pid.unwrap_or_default();
            f.notes
                .push(format!("memory: /proc/{pid}/status not readable"));
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
    let rss = procfs::rss_mib(running);
    // Closing stdin tells the client to close its connections and exit.
    drop(guard.child_mut().stdin.take());
    let _ = guard.child_mut().wait();
    Ok((v["established"].as_u64().unwrap_or(0), rss))
}
