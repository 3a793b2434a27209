//! The change engine: apply a config as a transaction (check, then
//! firewall, interfaces, listeners — see `exec`; undo on failure), one
//! pending change at a time with confirm-or-rollback (the timer is in
//! `pending`), and explicit rollback. Does I/O through the [`Store`] and the
//! daemon's [`Steps`].

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use tokio::sync::{broadcast, Mutex};

use super::hook::Replication;
use super::outcome::{ApplyOutcome, ChangeError, Event, EventKind};
use super::safety::{lockout, session_lockout, FORCED_CONFIRM};
use super::steps::Steps;
use super::{diff, Change};
use crate::config::{self, Config};
use crate::store::{clock, Author, Origin, Pending, Store, VersionState};

/// The version in force.
#[derive(Debug, Clone)]
pub(super) struct Running {
    pub version: u64,
    pub config: Arc<Config>,
    pub text: String,
}

pub(super) struct State {
    pub running: Option<Running>,
    pub pending: Option<Pending>,
    pub timer: Option<tokio::task::JoinHandle<()>>,
}

pub(super) struct Inner {
    pub store: Store,
    pub steps: Arc<dyn Steps>,
    pub state: Mutex<State>,
    pub events: broadcast::Sender<Event>,
    /// The pair's config sync, when there is a peer (see `replica`).
    pub replication: OnceLock<Arc<dyn Replication>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // A dropped engine must not roll anything back behind a successor's back.
        if let Some(t) = self.state.get_mut().timer.take() {
            t.abort();
        }
    }
}

/// The change engine. Cheap to clone; every clone drives the same state.
/// Changes are serialised: one apply, confirm or rollback at a time.
#[derive(Clone)]
pub struct Changer {
    pub(super) inner: Arc<Inner>,
}

impl Changer {
    /// An engine over `store` carrying out changes with `steps`. Nothing is
    /// running until [`Changer::startup`].
    pub fn new(store: Store, steps: Arc<dyn Steps>) -> Changer {
        let (events, _) = broadcast::channel(256);
        let state = State {
            running: None,
            pending: None,
            timer: None,
        };
        Changer {
            inner: Arc::new(Inner {
                store,
                steps,
                state: Mutex::new(state),
                events,
                replication: OnceLock::new(),
            }),
        }
    }

    /// The store (history, versions, diffs).
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The change log, live.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// The version in force and its config.
    pub async fn running(&self) -> Option<(u64, Arc<Config>)> {
        let st = self.inner.state.lock().await;
        st.running.as_ref().map(|r| (r.version, r.config.clone()))
    }

    /// The change waiting for confirmation, if any (for the UI's countdown).
    pub async fn pending(&self) -> Option<Pending> {
        self.inner.state.lock().await.pending
    }

    /// Applies `text` as a new version. `origin.source` is the client's
    /// address for the safety net; `force` overrides it, and a forced cut
    /// gets a deadline of [`FORCED_CONFIRM`] if `confirm_within` is `None`.
    pub async fn apply(
        &self,
        text: &str,
        origin: Origin,
        confirm_within: Option<Duration>,
        force: bool,
    ) -> Result<ApplyOutcome, ChangeError> {
        let mut st = self.inner.state.lock().await;
        if let Some(p) = st.pending {
            let err = ChangeError::PendingExists {
                version: p.version,
                deadline: p.deadline_time(),
            };
            self.emit(EventKind::Refused, None, err.to_string());
            return Err(err);
        }
        let out = self
            .apply_locked(&mut st, text, origin, confirm_within, force)
            .await;
        drop(st);
        self.publish(&out).await;
        out
    }

    /// Confirms the pending change: it becomes `current`, the rollback is off.
    pub async fn confirm(&self) -> Result<u64, ChangeError> {
        let mut st = self.inner.state.lock().await;
        let out = self.confirm_locked(&mut st);
        drop(st);
        if let Ok(v) = out {
            self.publish_confirm(v).await;
        }
        out
    }

    /// Confirms the pending change, the state locked.
    pub(super) fn confirm_locked(&self, st: &mut State) -> Result<u64, ChangeError> {
        let p = st.pending.ok_or(ChangeError::NothingPending)?;
        let store = &self.inner.store;
        store.set_current(p.version)?;
        store.set_state(p.version, VersionState::Confirmed, None)?;
        store.set_pending(None)?;
        st.pending = None;
        if let Some(t) = st.timer.take() {
            t.abort();
        }
        self.emit(
            EventKind::Confirmed,
            Some(p.version),
            format!("version {} confirmed", p.version),
        );
        Ok(p.version)
    }

    /// Goes back: with a change pending, undoes it now (to its previous
    /// version); otherwise applies `target` (default: the confirmed version
    /// before the running one) as a new version authored `rollback`.
    pub async fn rollback(&self, target: Option<u64>) -> Result<ApplyOutcome, ChangeError> {
        self.rollback_from(target, None).await
    }

    /// [`Changer::rollback`] asked from `source` (the UI's client, the SSH
    /// client of the CLI): going back to an old version goes through the
    /// same safety net as an apply, so a version that would cut `source`
    /// off is refused rather than applied at once.
    pub async fn rollback_from(
        &self,
        target: Option<u64>,
        source: Option<std::net::IpAddr>,
    ) -> Result<ApplyOutcome, ChangeError> {
        let mut st = self.inner.state.lock().await;
        let out = self.rollback_locked(&mut st, target, source).await;
        drop(st);
        self.publish(&out).await;
        out
    }

    async fn rollback_locked(
        &self,
        st: &mut State,
        target: Option<u64>,
        source: Option<std::net::IpAddr>,
    ) -> Result<ApplyOutcome, ChangeError> {
        if let Some(p) = st.pending {
            if target.is_some_and(|t| t != p.previous) {
                return Err(ChangeError::PendingExists {
                    version: p.version,
                    deadline: p.deadline_time(),
                });
            }
            if let Some(t) = st.timer.take() {
                t.abort();
            }
            self.undo_pending(st, p, "rolled back by request".into())
                .await?;
            return Ok(ApplyOutcome::RolledBack {
                undone: p.version,
                version: p.previous,
            });
        }
        let running = st.running.as_ref().map(|r| r.version);
        let target = match target {
            Some(t) => t,
            None => self
                .previous_confirmed(running)
                .ok_or(ChangeError::NoPrevious)?,
        };
        let (_, text) = self.inner.store.get(target)?;
        let mut origin = Origin::new(Author::Rollback);
        origin.source = source;
        origin.comment = format!("rollback to version {target}");
        self.apply_locked(st, &text, origin, None, false).await
    }

    /// The latest confirmed version older than `running`.
    fn previous_confirmed(&self, running: Option<u64>) -> Option<u64> {
        let below = running.unwrap_or(u64::MAX);
        let list = self.inner.store.list();
        list.iter()
            .rev()
            .find(|m| m.version < below && m.state == VersionState::Confirmed)
            .map(|m| m.version)
    }

    /// The apply proper, with the state locked and no change pending.
    pub(super) async fn apply_locked(
        &self,
        st: &mut State,
        text: &str,
        origin: Origin,
        confirm_within: Option<Duration>,
        force: bool,
    ) -> Result<ApplyOutcome, ChangeError> {
        // CPU work in proportion to the text: off the async workers.
        let owned = text.to_string();
        let parsed = tokio::task::spawn_blocking(move || config::parse(&owned)).await;
        let parsed = parsed.unwrap_or_else(|e| {
            Err(config::ConfigError::one(
                "",
                format!("the config check failed: {e}"),
            ))
        });
        let new = parsed.inspect_err(|e| {
            self.emit(
                EventKind::Refused,
                None,
                format!("refused an invalid config from {}: {e}", origin.author),
            );
        })?;
        // The same text is a change still when `limits.block_file` reads
        // differently now: the file is re-read at every apply.
        if let Some(r) = st
            .running
            .as_ref()
            .filter(|r| r.text == text && *r.config == new)
        {
            return Ok(ApplyOutcome::Unchanged { version: r.version });
        }
        let confirm_within = self.safety(st, &new, &origin, confirm_within, force)?;
        let old = st.running.clone();
        if confirm_within.is_some() && old.is_none() {
            return Err(ChangeError::NothingToRollBackTo);
        }
        let version = self.allocate(text, &origin).await?;
        let changes = old.as_ref().map(|o| diff(&o.config, &new));
        self.run(
            version,
            &new,
            old.as_ref().map(|o| &*o.config),
            changes.as_deref(),
        )
        .await?;
        st.running = Some(Running {
            version,
            config: Arc::new(new),
            text: text.to_string(),
        });
        let changes = changes.unwrap_or_default();
        let previous = old.map(|o| o.version);
        self.commit(
            st,
            version,
            changes,
            &origin.author,
            confirm_within.zip(previous),
        )
    }

    /// After the steps succeeded: `version` becomes current, or pending until
    /// the deadline with `previous` to go back to.
    pub(super) fn commit(
        &self,
        st: &mut State,
        version: u64,
        changes: Vec<Change>,
        author: &Author,
        pending: Option<(Duration, u64)>,
    ) -> Result<ApplyOutcome, ChangeError> {
        let store = &self.inner.store;
        let summary = summary(&changes);
        let Some((within, previous)) = pending else {
            store.set_current(version)?;
            store.set_state(version, VersionState::Confirmed, None)?;
            let msg = format!("version {version} applied by {author}{summary}");
            self.emit(EventKind::Applied, Some(version), msg);
            return Ok(ApplyOutcome::Applied { version, changes });
        };
        let deadline = SystemTime::now() + within;
        let record = Pending::new(version, previous, deadline);
        store.set_pending(Some(record))?;
        self.arm(st, record);
        let msg = format!(
            "version {version} applied by {author}, rolls back to version {previous} at {} unless confirmed{summary}",
            clock(deadline)
        );
        self.emit(EventKind::Pending, Some(version), msg);
        Ok(ApplyOutcome::Pending {
            version,
            previous,
            changes,
            deadline,
        })
    }

    /// The safety net; returns the confirmation deadline to use.
    fn safety(
        &self,
        st: &State,
        new: &Config,
        origin: &Origin,
        confirm_within: Option<Duration>,
        force: bool,
    ) -> Result<Option<Duration>, ChangeError> {
        let Some(old) = st.running.as_ref() else {
            return Ok(confirm_within);
        };
        let caller = origin
            .source
            .and_then(|src| Some((src, lockout(&old.config, new, src)?)));
        let session = || {
            origin
                .sessions
                .iter()
                .find_map(|&p| Some((p, session_lockout(&old.config, new, p)?)))
        };
        let Some((src, reason)) = caller.or_else(session) else {
            return Ok(confirm_within);
        };
        if !force {
            let err = ChangeError::LockOut { reason };
            self.emit(
                EventKind::Refused,
                None,
                format!("{} from {src}: {err}", origin.author),
            );
            return Err(err);
        }
        Ok(Some(confirm_within.unwrap_or(FORCED_CONFIRM)))
    }

    /// Reads and parses a stored version.
    pub(super) fn load(&self, version: u64) -> Result<Running, ChangeError> {
        let (_, text) = self.inner.store.get(version)?;
        let config = config::parse(&text)
            .map_err(|problem| ChangeError::StoredInvalid { version, problem })?;
        Ok(Running {
            version,
            config: Arc::new(config),
            text,
        })
    }

    /// Logs and broadcasts one event.
    pub(super) fn emit(&self, kind: EventKind, version: Option<u64>, message: String) {
        match kind {
            EventKind::Failed | EventKind::Refused | EventKind::RolledBack => {
                tracing::warn!(?version, "{message}")
            }
            _ => tracing::info!(?version, "{message}"),
        }
        let event = Event {
            time: SystemTime::now(),
            kind,
            version,
            message,
        };
        let _ = self.inner.events.send(event);
    }
}

fn summary(changes: &[Change]) -> String {
    if changes.is_empty() {
        return String::new();
    }
    let items: Vec<String> = changes.iter().map(Change::to_string).collect();
    format!(": {}", items.join("; "))
}
