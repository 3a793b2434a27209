//! The pending change: the timer that rolls it back at its deadline, and
//! the rollback itself. Does I/O through the store and the [`super::Steps`].

use std::sync::{Arc, Weak};
use std::time::SystemTime;

use super::outcome::{ChangeError, EventKind};
use super::steps::{call, Step};
use super::txn::{Changer, Inner, State};
use super::{diff, exec::needed};
use crate::store::{clock, Pending, VersionState};

impl Changer {
    /// Puts `p.previous` back in force in place of the pending `p.version`.
    pub(super) async fn undo_pending(
        &self,
        st: &mut State,
        p: Pending,
        reason: String,
    ) -> Result<(), ChangeError> {
        let store = &self.inner.store;
        let previous = self.load(p.previous)?;
        let todo = match st.running.as_ref() {
            Some(r) if r.version == p.version => needed(
                Some(&r.config),
                &previous.config,
                Some(&diff(&r.config, &previous.config)),
            ),
            _ => Step::APPLY.to_vec(),
        };
        let mut failures = Vec::new();
        for step in todo {
            if let Err(e) = call(&*self.inner.steps, step, &previous.config).await {
                failures.push(format!("{step}: {e}"));
            }
        }
        store.set_state(p.version, VersionState::RolledBack, Some(reason.clone()))?;
        store.set_pending(None)?;
        st.pending = None;
        st.running = Some(previous);
        let mut msg = format!(
            "version {} rolled back to version {}: {reason}",
            p.version, p.previous
        );
        if !failures.is_empty() {
            msg.push_str(&format!("; restoring failed ({})", failures.join("; ")));
        }
        self.emit(EventKind::RolledBack, Some(p.version), msg);
        Ok(())
    }

    /// Starts the timer that rolls `p` back at its deadline.
    pub(super) fn arm(&self, st: &mut State, p: Pending) {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let wait = p
            .deadline_time()
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        st.pending = Some(p);
        st.timer = Some(tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            if let Some(inner) = weak.upgrade() {
                Changer { inner }.expire(p).await;
            }
        }));
    }

    /// The deadline passed: roll back unless confirmed meanwhile.
    async fn expire(&self, p: Pending) {
        let mut st = self.inner.state.lock().await;
        if st.pending != Some(p) {
            return;
        }
        st.timer = None;
        let reason = format!("no confirmation by {}", clock(p.deadline_time()));
        if let Err(e) = self.undo_pending(&mut st, p, reason).await {
            let msg = format!("automatic rollback of version {} failed: {e}", p.version);
            self.emit(EventKind::Failed, Some(p.version), msg);
        }
    }
}
