//! The pair's config sync as the change engine sees it: the
//! [`Replication`] hook a local change calls (the peer validates and gives
//! its highest number before a version is stored; the peer hears of the
//! commit, confirm or rollback after), and the entry points the sync
//! server calls for what the peer did (`*_replica`), which never call the
//! hook back. Does I/O through the store and the [`super::Steps`].

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::diff;
use super::hook::{Published, Replication, Snapshot};
use super::outcome::{ApplyOutcome, ChangeError, EventKind};
use super::steps::{call, Step};
use super::txn::{Changer, Running};
use crate::config;
use crate::store::{Author, Origin, VersionMeta, VersionState};

impl Changer {
    /// Connects the pair's config sync; `false` if one is already set.
    pub fn set_replication(&self, r: Arc<dyn Replication>) -> bool {
        self.inner.replication.set(r).is_ok()
    }

    /// Stores `text` as a new version (state `pending`) at the pair's next
    /// number, once the peer (if reachable) has validated it.
    pub(super) async fn allocate(&self, text: &str, origin: &Origin) -> Result<u64, ChangeError> {
        let mut min = 1;
        if let Some(r) = self.inner.replication.get() {
            match r.prepare(text).await {
                Ok(Some(last)) => min = last.saturating_add(1),
                Ok(None) => {}
                Err(message) => {
                    let err = ChangeError::PeerRefused {
                        peer: r.peer(),
                        message,
                    };
                    self.emit(EventKind::Refused, None, err.to_string());
                    return Err(err);
                }
            }
        }
        Ok(self
            .inner
            .store
            .append_from(min, text, origin, VersionState::Pending)?)
    }

    /// Tells the peer about a local apply or rollback.
    pub(super) async fn publish(&self, out: &Result<ApplyOutcome, ChangeError>) {
        let Some(r) = self.inner.replication.get() else {
            return;
        };
        let (version, within) = match out {
            Ok(ApplyOutcome::Applied { version, .. }) => (*version, None),
            Ok(ApplyOutcome::Pending {
                version, deadline, ..
            }) => {
                let left = deadline
                    .duration_since(SystemTime::now())
                    .unwrap_or_default();
                (*version, Some(left))
            }
            Ok(ApplyOutcome::RolledBack { undone, .. }) => {
                r.publish(Published::RolledBack(*undone)).await;
                return;
            }
            _ => return,
        };
        if let Ok((meta, text)) = self.inner.store.get(version) {
            r.publish(Published::Version { meta, text, within }).await;
        }
    }

    /// Tells the peer about a local confirm.
    pub(super) async fn publish_confirm(&self, version: u64) {
        if let Some(r) = self.inner.replication.get() {
            r.publish(Published::Confirmed(version)).await;
        }
    }

    /// This node's state for the heartbeat.
    pub fn snapshot(&self) -> Snapshot {
        let store = &self.inner.store;
        let record = store.pending();
        let pending = record.map(|p| p.version);
        let pending_left = record.map(|p| {
            p.deadline_time()
                .duration_since(SystemTime::now())
                .unwrap_or_default()
        });
        let running = pending.or(store.current()).unwrap_or(0);
        let (time, text) = match store.get(running) {
            Ok((m, t)) => (m.time, t),
            Err(_) => (String::new(), String::new()),
        };
        Snapshot {
            running,
            text,
            time,
            last: store.last(),
            pending,
            pending_left,
        }
    }

    /// The peer asks: is `text` valid here? The highest number here if so.
    /// Refused while a change is under way or pending here.
    pub async fn validate_replica(&self, text: &str) -> Result<u64, String> {
        let st = self
            .inner
            .state
            .try_lock()
            .map_err(|_| "busy with another change; try again".to_string())?;
        if let Some(p) = st.pending {
            return Err(format!(
                "version {} is pending confirmation there; confirm or roll back first",
                p.version
            ));
        }
        let new = config::parse(text).map_err(|e| format!("invalid config: {e}"))?;
        call(&*self.inner.steps, Step::Check, &new)
            .await
            .map_err(|e| format!("check: {e}"))?;
        Ok(self.inner.store.last())
    }

    /// The peer made `meta.version`: put it in force here with the same
    /// number (pending `within` if given). A version older than the one in
    /// force is only recorded.
    pub async fn apply_replica(
        &self,
        meta: VersionMeta,
        text: &str,
        within: Option<Duration>,
    ) -> Result<ApplyOutcome, ChangeError> {
        let mut st = self.inner.state.lock().await;
        let n = meta.version;
        let running = st.running.as_ref().map(|r| r.version);
        if let Some(r) = st.running.as_ref().filter(|r| r.version == n) {
            if r.text != text {
                return Err(ChangeError::Clash {
                    version: n,
                    message: "another config of that number is in force here".into(),
                });
            }
            return Ok(ApplyOutcome::Unchanged { version: n });
        }
        if let Some(p) = st.pending {
            return Err(ChangeError::PendingExists {
                version: p.version,
                deadline: p.deadline_time(),
            });
        }
        let older = running.is_some_and(|r| r > n);
        self.record(
            &meta,
            text,
            if older {
                meta.state
            } else {
                VersionState::Pending
            },
        )?;
        if let (true, Some(r)) = (older, running) {
            return Ok(ApplyOutcome::Unchanged { version: r });
        }
        let new = config::parse(text).map_err(|problem| ChangeError::StoredInvalid {
            version: n,
            problem,
        })?;
        let old = st.running.clone();
        let changes = old.as_ref().map(|o| diff(&o.config, &new));
        self.run(
            n,
            &new,
            old.as_ref().map(|o| &*o.config),
            changes.as_deref(),
        )
        .await?;
        st.running = Some(Running {
            version: n,
            config: Arc::new(new),
            text: text.to_string(),
        });
        let pending = within.zip(old.map(|o| o.version));
        self.commit(
            &mut st,
            n,
            changes.unwrap_or_default(),
            &meta.author,
            pending,
        )
    }

    /// Whether this node's whole history is the one version it read from
    /// its config file at first boot: a node just (re)built from user data,
    /// whose version gives way to the pair's history ([`Self::adopt_replica`]).
    pub fn is_fresh(&self) -> bool {
        let list = self.inner.store.list();
        matches!(list.as_slice(), [m] if m.author == Author::FirstBoot && m.node.is_none())
    }

    /// Replaces this node's version under `meta.version` with the peer's
    /// (history only, never the running version): a fresh node
    /// ([`Self::is_fresh`]) taking the pair's history.
    pub fn adopt_replica(&self, meta: &VersionMeta, text: &str) -> Result<(), ChangeError> {
        if self.inner.store.current() == Some(meta.version) {
            return Err(ChangeError::Clash {
                version: meta.version,
                message: "the running version is not replaced".into(),
            });
        }
        Ok(self.inner.store.replace_at(meta, text)?)
    }

    /// Stores a copy of the peer's version (history only); `Ok(false)` if
    /// the same text is already there under that number.
    pub fn record_replica(&self, meta: &VersionMeta, text: &str) -> Result<bool, ChangeError> {
        if self.inner.store.get(meta.version).is_ok() {
            return self.record(meta, text, meta.state).map(|()| false);
        }
        self.record(meta, text, meta.state).map(|()| true)
    }

    /// `meta.version` with `text`, stored in `state`; a different text
    /// already under that number is a clash.
    fn record(
        &self,
        meta: &VersionMeta,
        text: &str,
        state: VersionState,
    ) -> Result<(), ChangeError> {
        let store = &self.inner.store;
        match store.get(meta.version) {
            Ok((_, t)) if t != text => Err(ChangeError::Clash {
                version: meta.version,
                message: "a different config is stored under this number here".into(),
            }),
            Ok((m, _)) if m.state == state => Ok(()),
            Ok(_) => Ok(store.set_state(meta.version, state, None)?),
            Err(_) => {
                let mut copy = meta.clone();
                copy.state = state;
                Ok(store.append_at(&copy, text)?)
            }
        }
    }

    /// The peer confirmed `version`: confirm it here too.
    pub async fn confirm_replica(&self, version: u64) -> Result<(), ChangeError> {
        let mut st = self.inner.state.lock().await;
        match st.pending {
            Some(p) if p.version == version => self.confirm_locked(&mut st).map(drop),
            _ if self.inner.store.current() == Some(version) => Ok(()),
            _ => Err(ChangeError::NothingPending),
        }
    }

    /// The peer rolled the pending `version` back: do the same here.
    pub async fn rollback_replica(&self, version: u64, peer: &str) -> Result<(), ChangeError> {
        let mut st = self.inner.state.lock().await;
        let Some(p) = st.pending.filter(|p| p.version == version) else {
            return Ok(());
        };
        if let Some(t) = st.timer.take() {
            t.abort();
        }
        self.undo_pending(&mut st, p, format!("rolled back on {peer}"))
            .await
    }

    /// After a partition in which both nodes changed: the version in force
    /// here, stored again at a number of at least `min` (author `sync`) so
    /// that the peer can take it with the same number. `None` while a
    /// change is pending or nothing runs.
    pub async fn reissue(&self, min: u64, why: String) -> Result<Option<VersionMeta>, ChangeError> {
        let mut st = self.inner.state.lock().await;
        if st.pending.is_some() {
            return Ok(None);
        }
        let Some(r) = st.running.as_mut() else {
            return Ok(None);
        };
        let store = &self.inner.store;
        let mut origin = Origin::new(Author::Sync);
        origin.comment = why.clone();
        let n = store.append_from(min, &r.text, &origin, VersionState::Confirmed)?;
        store.set_current(n)?;
        r.version = n;
        self.emit(EventKind::Applied, Some(n), format!("version {n}: {why}"));
        Ok(store.get(n).ok().map(|(m, _)| m))
    }
}
