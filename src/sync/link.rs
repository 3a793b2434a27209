//! The client side of the sync: this node's link to its peer. It is the
//! change engine's [`Replication`] hook (validate before, publish after a
//! local change), sends the heartbeat, keeps what was last seen of the
//! peer for the operator, and catches up (see [`super::plan`]). Does I/O
//! (the channel, the change engine).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;
use serde::Serialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::channel::Client;
use super::plan::diverged;
use super::wire::{hash, BanEntry, Entry, NodeState, Request, Response};
use super::{SyncError, HEARTBEAT};
use crate::change::{Changer, Published, Replication};
use crate::config::Ha;

/// How long a heartbeat may take.
const HELLO_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the peer may take to validate a config (it runs `nft -c`).
const PREPARE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the peer may take to put a version in force.
pub(super) const COMMIT_TIMEOUT: Duration = Duration::from_secs(20);

/// The pair as this node last saw it: the operator's view.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PeerSeen {
    /// This node's name (`ha.node[].name`; empty until found).
    pub node: String,
    /// This node's VRRP role.
    pub role: String,
    /// The peer's name.
    pub peer: String,
    /// The peer's address.
    pub address: Option<IpAddr>,
    /// The last heartbeat got an answer.
    pub reachable: bool,
    /// When the peer last answered or called.
    #[serde(skip)]
    pub last_seen: Option<SystemTime>,
    /// The peer's VRRP role, as last seen.
    pub peer_role: String,
    /// The peer's config version in force, as last seen.
    pub version: u64,
    /// The peer's pending version, as last seen.
    pub pending: Option<u64>,
    /// The two nodes ran different configs when last compared.
    pub diverged: bool,
    /// The last failure talking to the peer.
    pub error: Option<String>,
    /// The last conflict resolved (both nodes changed while apart).
    pub conflict: Option<String>,
}

struct State {
    client: Option<Client>,
    seen: PeerSeen,
    /// The peer's state as last heard.
    peer: Option<NodeState>,
}

/// This node's link to its peer.
pub struct Link {
    /// The `[ha]` section the link was started with.
    pub ha: Ha,
    tls: Arc<rustls::ClientConfig>,
    pub(super) changer: Changer,
    role: watch::Receiver<String>,
    state: Mutex<State>,
    /// Random per daemon start (see [`NodeState::boot`]).
    boot: u64,
}

impl Link {
    /// A link that knows nothing yet (see [`Link::found`]).
    pub fn new(
        ha: Ha,
        tls: Arc<rustls::ClientConfig>,
        changer: Changer,
        role: watch::Receiver<String>,
    ) -> Link {
        Link {
            ha,
            tls,
            changer,
            role,
            boot: rand::random(),
            state: Mutex::new(State {
                client: None,
                seen: PeerSeen::default(),
                peer: None,
            }),
        }
    }

    /// This node is `me` and its peer `peer` (node addresses).
    pub fn found(&self, me: IpAddr, peer: IpAddr) {
        let name = |a: IpAddr| {
            self.ha
                .nodes
                .iter()
                .find(|n| n.address == a)
                .map(|n| n.name.clone())
                .unwrap_or_default()
        };
        let client = Client::new(
            SocketAddr::new(peer, self.ha.sync_port),
            Some(me),
            self.tls.clone(),
        );
        if let Ok(mut st) = self.state.lock() {
            st.client = Some(client);
            st.seen.node = name(me);
            st.seen.peer = name(peer);
            st.seen.address = Some(peer);
        }
    }

    /// What was last seen of the peer; whether the configs diverge is
    /// judged now, against the peer's state as last heard.
    pub fn status(&self) -> PeerSeen {
        let (mut seen, peer) = self
            .state
            .lock()
            .map(|s| (s.seen.clone(), s.peer.clone()))
            .unwrap_or_default();
        seen.role = self.role.borrow().clone();
        if let Some(peer) = peer {
            seen.diverged = diverged(&self.state_named(&seen.node), &peer);
        }
        seen
    }

    /// This node's state, as the heartbeat tells it.
    pub fn state(&self) -> NodeState {
        let node = self
            .state
            .lock()
            .map(|s| s.seen.node.clone())
            .unwrap_or_default();
        self.state_named(&node)
    }

    fn state_named(&self, node: &str) -> NodeState {
        let snap = self.changer.snapshot();
        NodeState {
            name: node.to_string(),
            role: self.role.borrow().clone(),
            running: snap.running,
            hash: hash(&snap.text),
            time: snap.time,
            last: snap.last,
            pending: snap.pending,
            pending_ms: snap
                .pending_left
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            boot: self.boot,
        }
    }

    /// Records the peer's state (from its answer or its own heartbeat).
    pub fn saw(&self, peer: &NodeState) {
        if let Ok(mut st) = self.state.lock() {
            st.peer = Some(peer.clone());
            let s = &mut st.seen;
            s.reachable = true;
            s.last_seen = Some(SystemTime::now());
            s.peer_role = peer.role.clone();
            s.version = peer.running;
            s.pending = peer.pending;
            s.error = None;
        }
    }

    /// One heartbeat now (after a change reached the peer), so the view
    /// of the peer is fresh.
    async fn refresh(&self) {
        if let Ok(Response::State(peer)) =
            self.ask(&Request::Hello(self.state()), HELLO_TIMEOUT).await
        {
            self.saw(&peer);
        }
    }

    fn failed(&self, e: &SyncError) {
        if let Ok(mut st) = self.state.lock() {
            if st.seen.reachable || st.seen.error.is_none() {
                tracing::warn!(peer = %st.seen.peer, error = %e, "sync: peer not reachable");
            }
            st.seen.reachable = false;
            st.seen.error = Some(e.to_string());
        }
    }

    /// Records a conflict resolved after a partition, for the operator.
    pub(super) fn conflict(&self, what: String) {
        tracing::warn!("sync: {what}");
        if let Ok(mut st) = self.state.lock() {
            st.seen.conflict = Some(what);
        }
    }

    fn client(&self) -> Option<Client> {
        self.state.lock().ok().and_then(|s| s.client.clone())
    }

    fn reachable(&self) -> bool {
        self.state.lock().is_ok_and(|s| s.seen.reachable)
    }

    /// Asks the peer; a transport failure marks it unreachable.
    pub async fn ask(&self, req: &Request, within: Duration) -> Result<Response, SyncError> {
        let client = self.client().ok_or_else(|| {
            SyncError::Protocol("this node is not found among ha.node yet".into())
        })?;
        let out = client.ask(req, within).await;
        if let Err(e) = &out {
            self.failed(e);
        }
        out
    }

    /// Heartbeats until `token` is cancelled, catching up after each.
    pub async fn run(self: Arc<Self>, token: CancellationToken) {
        let mut tick = tokio::time::interval(HEARTBEAT);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut was_reachable = false;
        let mut peer_boot = None;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = token.cancelled() => return,
            }
            let me = self.state();
            let Ok(Response::State(peer)) =
                self.ask(&Request::Hello(me.clone()), HELLO_TIMEOUT).await
            else {
                was_reachable = false;
                continue;
            };
            self.saw(&peer);
            // First contact, or the peer restarted between two heartbeats.
            let first = !was_reachable || peer_boot != Some(peer.boot);
            was_reachable = true;
            peer_boot = Some(peer.boot);
            if let Err(e) = self.settle(&me, &peer, first).await {
                tracing::warn!(error = %e, "sync: catching up with the peer failed");
            }
            if first {
                self.share_bans().await;
            }
        }
    }

    /// Sends a version to the peer to put in force.
    pub(super) async fn push(&self, entry: Entry, within: Option<Duration>) {
        let version = entry.meta.version;
        let req = Request::Commit {
            entry,
            within_ms: within.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            from: self.status().node,
        };
        match self.ask(&req, COMMIT_TIMEOUT).await {
            Ok(Response::Done) => {
                tracing::info!(version, "sync: in force on the peer");
                self.refresh().await;
            }
            Ok(Response::Refused { message }) => {
                tracing::warn!(version, %message, "sync: the peer did not take the version")
            }
            Ok(other) => tracing::warn!(version, ?other, "sync: unexpected answer to Commit"),
            Err(e) => tracing::warn!(version, error = %e, "sync: the peer will catch up"),
        }
    }

    async fn tell(&self, req: Request) {
        if !self.reachable() {
            return;
        }
        match self.ask(&req, COMMIT_TIMEOUT).await {
            Ok(Response::Done) => self.refresh().await,
            Ok(other) => tracing::warn!(?req, ?other, "sync: the peer did not follow"),
            Err(e) => tracing::warn!(?req, error = %e, "sync: the peer will catch up"),
        }
    }

    /// Tells the peer about a ban (fire and forget); `admin`: the login
    /// guard's ban of the admin port and SSH only.
    pub fn ban(self: &Arc<Self>, addr: IpAddr, secs: u64, admin: bool) {
        let me = self.clone();
        let bans = vec![BanEntry { addr, secs, admin }];
        tokio::spawn(async move { me.tell(Request::Bans { bans }).await });
    }

    /// Asks the peer to relay this node's user-space connections back to
    /// it for `within` (zero: stop); see `ha::drain`.
    pub async fn relay(&self, within: Duration) -> Result<(), String> {
        let ms = u64::try_from(within.as_millis()).unwrap_or(u64::MAX);
        match self.ask(&Request::Relay { ms }, HELLO_TIMEOUT).await {
            Ok(Response::Done) => Ok(()),
            Ok(Response::Refused { message }) => Err(message),
            Ok(other) => Err(format!("unexpected answer {other:?}")),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Tells the peer a ban was lifted (fire and forget).
    pub fn unban(self: &Arc<Self>, addr: IpAddr) {
        let me = self.clone();
        tokio::spawn(async move { me.tell(Request::Unban { addr }).await });
    }
}

impl Replication for Link {
    fn peer(&self) -> String {
        self.status().peer
    }

    fn prepare<'a>(&'a self, text: &'a str) -> BoxFuture<'a, Result<Option<u64>, String>> {
        Box::pin(async move {
            if !self.reachable() {
                return Ok(None);
            }
            let req = Request::Prepare {
                text: text.to_string(),
            };
            match self.ask(&req, PREPARE_TIMEOUT).await {
                Ok(Response::Prepared { last }) => Ok(Some(last)),
                Ok(Response::Refused { message }) => Err(message),
                Ok(other) => Err(format!("unexpected answer: {other:?}")),
                Err(e) => {
                    tracing::warn!(error = %e, "sync: peer not reachable; applying here alone");
                    Ok(None)
                }
            }
        })
    }

    fn publish(&self, what: Published) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if !self.reachable() {
                return;
            }
            match what {
                Published::Version { meta, text, within } => {
                    self.push(Entry { meta, text }, within).await
                }
                Published::Confirmed(version) => self.tell(Request::Confirm { version }).await,
                Published::RolledBack(version) => self.tell(Request::Rollback { version }).await,
            }
        })
    }
}
