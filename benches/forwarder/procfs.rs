//! What `/proc` says about a forwarder: resident memory and CPU time,
//! for nginx summed over master and workers.
//!
//! Does I/O: reads `/proc/PID/{status,stat,task/PID/children}`.

use crate::running::Running;

/// Clock ticks per second of `/proc/PID/stat` times (USER_HZ, 100 on Linux).
const TICKS_PER_SEC: u64 = 100;

/// The process and, where it matters, its children.
fn pids(r: &Running) -> Option<Vec<u32>> {
    let pid = r.pid?;
    let mut pids = vec![pid];
    if r.with_children {
        pids.extend(children(pid));
    }
    Some(pids)
}

/// Resident memory (`VmRSS`), MiB.
pub fn rss_mib(r: &Running) -> Option<f64> {
    let kib: Vec<u64> = pids(r)?.iter().filter_map(|p| vm_rss_kib(*p)).collect();
    // Nothing readable means the process is gone, not that it uses 0 bytes.
    (!kib.is_empty()).then(|| kib.iter().sum::<u64>() as f64 / 1024.0)
}

/// User + system CPU time so far, ms.
pub fn cpu_ms(r: &Running) -> Option<f64> {
    let ticks: Vec<u64> = pids(r)?.iter().filter_map(|p| cpu_ticks(*p)).collect();
    (!ticks.is_empty()).then(|| (ticks.iter().sum::<u64>() * 1000 / TICKS_PER_SEC) as f64)
}

/// PIDs of `pid`'s children.
pub fn children(pid: u32) -> Vec<u32> {
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

/// utime + stime of every thread of `pid`, in ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat_ticks(&stat)
}

/// utime (field 14) + stime (15) of a `/proc/PID/stat` line; the command
/// name in field 2 may hold spaces, so fields are counted after its `)`.
pub fn stat_ticks(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The parent PID of `pid`, while it exists.
pub fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}
