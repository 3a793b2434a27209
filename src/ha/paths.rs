//! Where keepalived's and conntrackd's files live: all under
//! `state_dir/ha/`, so two nodes with two state folders run side by side on
//! one host without sharing a pid file, lock, socket or FIFO. Pure.

use std::path::{Path, PathBuf};

/// Every file of the pair's engines, for one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// `state_dir/ha`.
    pub dir: PathBuf,
}

impl Paths {
    /// The files of the node whose state folder is `state_dir`.
    pub fn new(state_dir: &Path) -> Paths {
        Paths {
            dir: state_dir.join("ha"),
        }
    }
    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
    /// The rendered keepalived config.
    pub fn keepalived_conf(&self) -> PathBuf {
        self.file("keepalived.conf")
    }
    /// keepalived's parent pid file.
    pub fn keepalived_pid(&self) -> PathBuf {
        self.file("keepalived.pid")
    }
    /// keepalived's VRRP child pid file.
    pub fn vrrp_pid(&self) -> PathBuf {
        self.file("keepalived-vrrp.pid")
    }
    /// keepalived's checker child pid file (unused: VRRP only, but keepalived
    /// must not fall back to the shared default).
    pub fn checkers_pid(&self) -> PathBuf {
        self.file("keepalived-checkers.pid")
    }
    /// keepalived's BFD child pid file (idem).
    pub fn bfd_pid(&self) -> PathBuf {
        self.file("keepalived-bfd.pid")
    }
    /// The FIFO keepalived writes every VRRP transition to.
    pub fn notify_fifo(&self) -> PathBuf {
        self.file("notify.fifo")
    }
    /// Written by the health loop ("ok" or "down: why"), read by the
    /// `vrrp_script` (`parvis ha check`), which also fails when it is stale.
    pub fn health(&self) -> PathBuf {
        self.file("health")
    }
    /// keepalived `track_file` (weight 0): non-zero puts the node in FAULT.
    /// `parvis ha handover` writes 1 here, then 0 once the peer is master.
    pub fn standby(&self) -> PathBuf {
        self.file("standby")
    }
    /// The rendered conntrackd config.
    pub fn conntrackd_conf(&self) -> PathBuf {
        self.file("conntrackd.conf")
    }
    /// conntrackd's lock file.
    pub fn conntrackd_lock(&self) -> PathBuf {
        self.file("conntrackd.lock")
    }
    /// conntrackd's control socket (`conntrackd -C conf -c` talks to it).
    pub fn conntrackd_sock(&self) -> PathBuf {
        self.file("conntrackd.ctl")
    }
    /// conntrackd's log.
    pub fn conntrackd_log(&self) -> PathBuf {
        self.file("conntrackd.log")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_state_dirs_share_no_file() {
        let a = Paths::new(Path::new("/s/a"));
        let b = Paths::new(Path::new("/s/b"));
        let all = |p: &Paths| {
            vec![
                p.keepalived_conf(),
                p.keepalived_pid(),
                p.vrrp_pid(),
                p.checkers_pid(),
                p.bfd_pid(),
                p.notify_fifo(),
                p.health(),
                p.standby(),
                p.conntrackd_conf(),
                p.conntrackd_lock(),
                p.conntrackd_sock(),
                p.conntrackd_log(),
            ]
        };
        for f in all(&a) {
            assert!(f.starts_with("/s/a/ha"), "{}", f.display());
            assert!(!all(&b).contains(&f));
        }
    }
}
