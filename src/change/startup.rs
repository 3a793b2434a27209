//! Bringing the system to one complete version when the daemon starts, and
//! re-reading the config file on SIGHUP. Does I/O (store, steps, the file).

use std::path::Path;
use std::time::SystemTime;

use super::outcome::{ApplyOutcome, ChangeError, EventKind};
use super::steps::{call, Step};
use super::txn::{Changer, Running, State};
use crate::store::{Author, Origin, Pending, VersionState};

impl Changer {
    /// At daemon start: finishes what a crash interrupted and applies one
    /// complete version with every step (never a mix of two):
    /// - a pending change past its deadline: its previous version, and it is
    ///   marked `rolled-back`; before the deadline: the pending version, with
    ///   the timer re-armed for the time left;
    /// - otherwise `current`; a version left `pending` by a crash mid-apply
    ///   is marked `failed`.
    ///
    /// Then `file_text` (the daemon's config file) is applied as a change if
    /// nothing is stored yet (author `first-boot`) or if it differs from the
    /// last version read from the file (author `startup`): an edit made
    /// while the daemon was down. It is also applied again when that last
    /// version failed and nothing newer runs (a port taken, a NIC late at
    /// the time). It is skipped while a change is pending.
    pub async fn startup(
        &self,
        file_text: Option<&str>,
    ) -> Result<Option<ApplyOutcome>, ChangeError> {
        self.startup_guarding(file_text, &|_| Vec::new()).await
    }

    /// [`Changer::startup`], where `sessions(restored config)` gives the
    /// peers of the established admin and SSH connections (an SSH session
    /// outlives a daemon restart): a file edited while the daemon was down
    /// that would cut one of them off is refused ([`ChangeError::LockOut`])
    /// and the restored version stays in force.
    pub async fn startup_guarding(
        &self,
        file_text: Option<&str>,
        sessions: &(dyn Fn(&crate::config::Config) -> Vec<std::net::IpAddr> + Sync),
    ) -> Result<Option<ApplyOutcome>, ChangeError> {
        let mut st = self.inner.state.lock().await;
        let restored = match self.inner.store.pending() {
            Some(p) => self.restore_pending(&mut st, p).await,
            None => self.restore_current(&mut st).await,
        };
        if let Err(e) = &restored {
            self.emit(EventKind::Failed, None, format!("startup: {e}"));
        }
        let (Some(text), None) = (file_text, st.pending) else {
            return restored.map(|()| None);
        };
        let Some(mut origin) = self.file_origin(text, st.running.as_ref()) else {
            return restored.map(|()| None);
        };
        origin.sessions = st
            .running
            .as_ref()
            .map_or_else(Vec::new, |r| sessions(&r.config));
        self.apply_locked(&mut st, text, origin, None, false)
            .await
            .map(Some)
    }

    /// The origin of applying the file's `text` at start, or `None` when
    /// it is the last version read from the file and not worth a retry.
    fn file_origin(&self, text: &str, running: Option<&Running>) -> Option<Origin> {
        let store = &self.inner.store;
        let list = store.list();
        let author = if list.is_empty() {
            Author::FirstBoot
        } else {
            Author::Startup
        };
        let mut origin = Origin::new(author);
        origin.comment = "config file".into();
        // A version read from the peer's file (config sync) says nothing
        // about this node's file.
        let last_read = list
            .iter()
            .rev()
            .find(|m| m.author.is_file() && m.node.is_none());
        if let Some(m) = last_read {
            if store.get(m.version).is_ok_and(|(_, t)| t == text) {
                if !self.worth_retrying(m, running) {
                    return None;
                }
                // A passing cause (a port still taken, a NIC late) must not
                // keep every later start on the old version or the safe
                // default: the file's version is tried again.
                let why = m.reason.as_deref().unwrap_or("unknown");
                let msg = format!(
                    "startup: trying version {} from the config file again (it failed: {why})",
                    m.version
                );
                self.emit(EventKind::Restored, Some(m.version), msg);
                origin.comment = format!("config file, retry of version {}", m.version);
            }
        }
        Some(origin)
    }

    /// Whether the file's version `m` failed and nothing was confirmed
    /// after it (a later version from the UI or CLI wins over a retry).
    fn worth_retrying(&self, m: &crate::store::VersionMeta, running: Option<&Running>) -> bool {
        m.state == VersionState::Failed && running.is_none_or(|r| r.version < m.version)
    }

    /// SIGHUP: re-reads `path` and applies it as a change authored `sighup`.
    /// A signal has no caller, so `sessions` (the peers of the established
    /// admin and SSH connections) stand for it: a file that would cut one
    /// of them off is refused ([`ChangeError::LockOut`]), never applied.
    pub async fn reload_file(
        &self,
        path: &Path,
        sessions: Vec<std::net::IpAddr>,
    ) -> Result<ApplyOutcome, ChangeError> {
        let text = tokio::fs::read_to_string(path)
            .await
            .map_err(|source| ChangeError::Read {
                path: path.to_path_buf(),
                source,
            })?;
        let mut origin = Origin::new(Author::Sighup);
        origin.comment = format!("SIGHUP: {}", path.display());
        origin.sessions = sessions;
        self.apply(&text, origin, None, false).await
    }

    async fn restore_pending(&self, st: &mut State, p: Pending) -> Result<(), ChangeError> {
        let store = &self.inner.store;
        if store.current() == Some(p.version) {
            // Killed while confirming: the pointer moved, finish the rest.
            store.set_state(p.version, VersionState::Confirmed, None)?;
            store.set_pending(None)?;
            return self.restore_current(st).await;
        }
        if SystemTime::now() >= p.deadline_time() {
            let reason = format!(
                "no confirmation by {} (the deadline passed while the daemon was down)",
                crate::store::clock(p.deadline_time())
            );
            return self.undo_pending(st, p, reason).await;
        }
        let pending = self.load(p.version)?;
        if let Err(e) = self.apply_all(&pending).await {
            let reason = format!("could not be restored at startup: {e}");
            return self.undo_pending(st, p, reason).await;
        }
        st.running = Some(pending);
        self.arm(st, p);
        let msg = format!(
            "startup: version {} restored, rolls back to version {} at {} unless confirmed",
            p.version,
            p.previous,
            crate::store::clock(p.deadline_time())
        );
        self.emit(EventKind::Restored, Some(p.version), msg);
        Ok(())
    }

    async fn restore_current(&self, st: &mut State) -> Result<(), ChangeError> {
        let store = &self.inner.store;
        let current = store.current();
        for m in store
            .list()
            .iter()
            .filter(|m| m.state == VersionState::Pending)
        {
            if Some(m.version) == current {
                store.set_state(m.version, VersionState::Confirmed, None)?;
            } else {
                let reason = "interrupted: the daemon stopped during the apply".to_string();
                store.set_state(m.version, VersionState::Failed, Some(reason))?;
            }
        }
        let Some(current) = current else {
            return Ok(());
        };
        let running = self.load(current)?;
        self.apply_all(&running).await?;
        st.running = Some(running);
        let msg = format!("startup: version {current} restored");
        self.emit(EventKind::Restored, Some(current), msg);
        Ok(())
    }

    /// Every step, in order, with one version: a complete state whatever
    /// the system held before.
    async fn apply_all(&self, running: &Running) -> Result<(), ChangeError> {
        let steps = &*self.inner.steps;
        for step in [Step::Check, Step::Firewall, Step::Net, Step::Forwarder] {
            if let Err(e) = call(steps, step, &running.config).await {
                return Err(ChangeError::StepFailed {
                    version: running.version,
                    step,
                    message: e.message,
                    undo_failures: Vec::new(),
                });
            }
        }
        Ok(())
    }
}
