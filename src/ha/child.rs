//! One engine (keepalived or conntrackd) run as a child of the daemon and
//! restarted when it exits. Does I/O (processes, signals).
//!
//! The child is started through `setpriv --pdeathsig SIGTERM`, so the
//! kernel sends it SIGTERM when the thread that started it dies — with the
//! daemon, even on `kill -9`. keepalived answers SIGTERM by sending a
//! priority-0 advertisement: the peer takes over at once instead of after
//! three missed adverts. The death signal follows the starting *thread*, so
//! each child is started and waited for by its own long-lived thread, never
//! from tokio's pool (whose threads come and go).

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Pause before a restart, so a child that cannot start does not spin.
const BACKOFF: Duration = Duration::from_secs(1);

/// A supervised child; [`Supervised::stop`] ends it.
#[derive(Debug)]
pub struct Supervised {
    name: &'static str,
    stop: Arc<AtomicBool>,
    pid: Arc<AtomicI32>,
    thread: Option<JoinHandle<()>>,
}

/// Why a child exited, for the event log.
#[derive(Debug, Clone)]
pub struct Exit {
    /// `keepalived` or `conntrackd`.
    pub name: &'static str,
    /// Its exit status, or the spawn error.
    pub status: String,
}

/// Starts `argv` (program first) under `setpriv --pdeathsig SIGTERM` and
/// restarts it whenever it exits, calling `on_exit` each time. Before each
/// start it waits (up to [`PREDECESSOR_WAIT`]) for the process named in
/// `pid_file` to be gone: the instance of a daemon that was just killed is
/// still giving up its VIPs, and a second keepalived would see it and exit.
pub fn supervise(
    name: &'static str,
    argv: Vec<String>,
    pid_file: Option<std::path::PathBuf>,
    on_exit: impl Fn(Exit) + Send + 'static,
) -> Supervised {
    let stop = Arc::new(AtomicBool::new(false));
    let pid = Arc::new(AtomicI32::new(0));
    let (s, p) = (stop.clone(), pid.clone());
    let thread = std::thread::Builder::new()
        .name(format!("ha-{name}"))
        .spawn(move || run(name, &argv, pid_file.as_deref(), &s, &p, &on_exit))
        .ok();
    Supervised {
        name,
        stop,
        pid,
        thread,
    }
}

/// The daemon's stderr (its log), for the child's stdout too: conntrackd
/// prints its notices there.
fn stderr() -> Stdio {
    use std::os::fd::AsFd;
    std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map_or_else(|_| Stdio::null(), Stdio::from)
}

/// How long a start waits for the previous instance to exit.
pub const PREDECESSOR_WAIT: Duration = Duration::from_secs(10);

/// Waits until the pid in `pid_file` (if any, and alive) has exited.
fn await_predecessor(name: &str, pid_file: &std::path::Path) {
    let Some(pid) = std::fs::read_to_string(pid_file)
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok())
    else {
        return;
    };
    let alive = || std::path::Path::new(&format!("/proc/{pid}")).exists();
    let deadline = std::time::Instant::now() + PREDECESSOR_WAIT;
    if alive() {
        tracing::info!(
            child = name,
            pid,
            "waiting for the previous instance to exit"
        );
    }
    while alive() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn run(
    name: &'static str,
    argv: &[String],
    pid_file: Option<&std::path::Path>,
    stop: &AtomicBool,
    pid: &AtomicI32,
    on_exit: &dyn Fn(Exit),
) {
    while !stop.load(Ordering::SeqCst) {
        if let Some(f) = pid_file {
            await_predecessor(name, f);
        }
        let spawned = Command::new("setpriv")
            .args(["--pdeathsig", "SIGTERM", "--"])
            .args(argv)
            .stdin(Stdio::null())
            .stdout(stderr())
            .spawn();
        let status = match spawned {
            Ok(mut child) => {
                pid.store(i32::try_from(child.id()).unwrap_or(0), Ordering::SeqCst);
                tracing::info!(child = name, pid = child.id(), "started");
                let status = child.wait();
                pid.store(0, Ordering::SeqCst);
                match status {
                    Ok(s) => s.to_string(),
                    Err(e) => e.to_string(),
                }
            }
            Err(e) => format!("cannot start: {e}"),
        };
        if stop.load(Ordering::SeqCst) {
            return;
        }
        tracing::warn!(child = name, %status, "exited; restarting");
        on_exit(Exit { name, status });
        std::thread::sleep(BACKOFF);
    }
}

impl Supervised {
    /// The child's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        u32::try_from(self.pid.load(Ordering::SeqCst))
            .ok()
            .filter(|p| *p != 0)
    }

    /// Sends SIGTERM (keepalived gives up mastership with priority 0),
    /// waits for the child and its thread. Blocking: call from a blocking
    /// context.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(p) = self.pid() {
            if let Ok(p) = i32::try_from(p) {
                let _ = kill(Pid::from_raw(p), Signal::SIGTERM);
            }
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        tracing::info!(child = self.name, "stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn restarts_a_child_that_exits_and_stops_on_request() {
        let (tx, rx) = mpsc::channel();
        let tx = std::sync::Mutex::new(tx);
        let s = supervise("true", vec!["true".into()], None, move |e| {
            let _ = tx.lock().map(|t| t.send(e.status));
        });
        let first = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("exited once");
        assert!(first.contains("exit status: 0"), "{first}");
        rx.recv_timeout(Duration::from_secs(5))
            .expect("restarted and exited again");
        s.stop();
    }

    #[test]
    fn a_start_waits_for_the_previous_instance() {
        let dir = tempfile::tempdir().expect("tmp");
        let pid_file = dir.path().join("old.pid");
        let mut old = Command::new("sleep").arg("1").spawn().expect("sleep");
        std::fs::write(&pid_file, format!("{}\n", old.id())).expect("pid");
        let reaper = std::thread::spawn(move || old.wait());
        let t = std::time::Instant::now();
        let s = supervise(
            "sleep",
            vec!["sleep".into(), "60".into()],
            Some(pid_file),
            |_| {},
        );
        while s.pid().is_none() && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = reaper.join();
        assert!(
            t.elapsed() >= Duration::from_millis(800),
            "started after {:?}",
            t.elapsed()
        );
        s.stop();
    }

    #[test]
    fn stop_ends_a_long_running_child() {
        let s = supervise("sleep", vec!["sleep".into(), "60".into()], None, |_| {});
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while s.pid().is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let pid = s.pid().expect("running");
        s.stop();
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    }
}
