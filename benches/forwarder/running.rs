//! A started peer (a process, or the direct path's nftables table) that
//! is stopped completely when dropped.
//!
//! Does I/O: signals (through `kill`), `wait`, `nft delete table`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use parvis::lab::ChildGuard;

use crate::procfs;

/// How long a process may take to exit after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// A started program (or the direct path's nft table); stopped on drop.
///
/// nginx workers outlive a SIGKILLed master and keep the listening socket,
/// so the next forwarder could not bind and its figures would be nginx's:
/// stopping sends SIGTERM first (nginx's master then ends its workers),
/// waits, and SIGKILLs whatever of the process and its children is left.
#[derive(Debug)]
pub struct Running {
    /// The process whose memory is measured (`None`: the kernel path).
    pub pid: Option<u32>,
    /// Count its children too (nginx master + workers).
    pub with_children: bool,
    guard: Option<ChildGuard>,
    /// `(namespace, "family table")` to delete on drop.
    nft: Option<(String, String)>,
}

impl Running {
    /// A started process; `with_children` for a master/worker program.
    pub fn process(guard: ChildGuard, with_children: bool) -> Running {
        Running {
            pid: Some(guard.id()),
            with_children,
            guard: Some(guard),
            nft: None,
        }
    }

    /// An nftables `ip` table loaded into namespace `ns`.
    pub fn nft_table(ns: &str, table: &str) -> Running {
        Running {
            pid: None,
            with_children: false,
            guard: None,
            nft: Some((ns.to_owned(), format!("ip {table}"))),
        }
    }

    /// Also deletes `table` (e.g. `inet parvis`, which the parvis daemon
    /// leaves in the kernel by design) in `ns` when stopped, so the next
    /// contender meets a clean namespace.
    pub fn leaving_table(mut self, ns: &str, table: &str) -> Running {
        self.nft = Some((ns.to_owned(), table.to_owned()));
        self
    }

    /// `Some(status)` if the process has already ended (e.g. it could not
    /// bind its port), `None` while it runs or when there is no process.
    pub fn exited(&mut self) -> Option<String> {
        let child = self.guard.as_mut()?.child_mut();
        match child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            _ => None,
        }
    }

    fn stop(&mut self) {
        let Some(mut guard) = self.guard.take() else {
            return;
        };
        let pid = guard.id();
        let children = procfs::children(pid);
        signal("-TERM", pid);
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if !matches!(guard.child_mut().try_wait(), Ok(None)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(guard); // SIGKILL if still there, and reap
        for child in children {
            // Only if it is still our process's child: a PID reused by
            // another program after a clean exit must not be killed.
            if procfs::parent(child) == Some(pid) {
                signal("-KILL", child);
            }
        }
    }
}

/// `kill SIG PID`; a process that is gone already is not an error.
fn signal(sig: &str, pid: u32) {
    let _ = Command::new("kill")
        .args([sig, &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
        if let Some((ns, table)) = &self.nft {
            let _ = Command::new("ip")
                .args(["netns", "exec", ns, "nft", "delete", "table"])
                .args(table.split_whitespace())
                .status();
        }
    }
}
