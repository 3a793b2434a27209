//! What a node does with its peer's requests (already authenticated by
//! the channel): heartbeats, validate, commit, confirm, rollback, history,
//! bans. Nothing here calls the peer back. Does I/O (the change engine,
//! nft for bans).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::channel::Handler;
use super::link::Link;
use super::wire::{hash, BanEntry, Entry, Listed, Request, Response, MAX_BANS};
use crate::change::{ApplyOutcome, Changer};
use crate::firewall;
use crate::store::{Author, VersionState};

/// The server side of one node.
pub struct Node {
    changer: Changer,
    link: Arc<Link>,
}

impl Node {
    /// Answers with `changer`, recording what it hears in `link`.
    pub fn new(changer: Changer, link: Arc<Link>) -> Node {
        Node { changer, link }
    }

    async fn commit(&self, entry: Entry, within_ms: Option<u64>, from: String) -> Response {
        let mut meta = entry.meta;
        meta.node = Some(from.clone());
        let version = meta.version;
        let reissued = meta.author == Author::Sync;
        let before = self.changer.snapshot().running;
        let within = within_ms.map(Duration::from_millis);
        match self.changer.apply_replica(meta, &entry.text, within).await {
            Ok(ApplyOutcome::Unchanged { .. }) => Response::Done,
            Ok(_) => {
                if reissued && before != 0 {
                    self.superseded(before, &from, version);
                }
                Response::Done
            }
            Err(e) => refused(format!("version {version}: {e}")),
        }
    }

    /// The peer won a partition in which both changed the config: the
    /// version this node made meanwhile is marked so.
    fn superseded(&self, mine: u64, peer: &str, theirs: u64) {
        let why = format!(
            "superseded by {peer}'s version {theirs}: both nodes changed the config while apart"
        );
        let _ = self
            .changer
            .store()
            .set_state(mine, VersionState::RolledBack, Some(why.clone()));
        self.link
            .conflict(format!("version {mine} made here was {why}"));
    }

    /// `limits.ipv6_prefix` of the config in force (bans cover that prefix).
    async fn prefix(&self) -> u8 {
        match self.changer.running().await {
            Some((_, cfg)) => cfg.limits.ipv6_prefix,
            None => 128,
        }
    }

    /// Relays the peer's connections back to it (planned handover).
    async fn relay(&self, ms: u64) -> Response {
        let ha = &self.link.ha;
        let node = self.link.status().node;
        let plan = ha
            .nodes
            .iter()
            .find(|n| n.name == node)
            .and_then(|n| crate::ha::drain::Plan::new(ha, n.address));
        let Some(plan) = plan else {
            return refused(
                "no drain here: the drain tunnel needs IPv4 node addresses and VIP".into(),
            );
        };
        match crate::ha::drain::relay(plan, Duration::from_millis(ms)).await {
            Ok(()) => Response::Done,
            Err(e) => refused(format!("cannot relay: {e}")),
        }
    }

    fn list(&self) -> Response {
        let store = self.changer.store();
        let versions = store
            .list()
            .into_iter()
            .filter_map(|meta| {
                let (_, text) = store.get(meta.version).ok()?;
                Some(Listed {
                    hash: hash(&text),
                    meta,
                })
            })
            .collect();
        Response::Listing { versions }
    }

    fn fetch(&self, versions: &[u64]) -> Response {
        let store = self.changer.store();
        let entries = versions
            .iter()
            .take(crate::store::KEEP)
            .filter_map(|&n| store.get(n).ok())
            .map(|(meta, text)| Entry { meta, text })
            .collect();
        Response::Entries { entries }
    }
}

fn refused(message: String) -> Response {
    Response::Refused { message }
}

impl Handler for Node {
    async fn handle(&self, req: Request) -> Response {
        match req {
            Request::Hello(peer) => {
                self.link.saw(&peer);
                Response::State(self.link.state())
            }
            Request::Prepare { text } => match self.changer.validate_replica(&text).await {
                Ok(last) => Response::Prepared { last },
                Err(message) => refused(message),
            },
            Request::Commit {
                entry,
                within_ms,
                from,
            } => self.commit(entry, within_ms, from).await,
            Request::Confirm { version } => match self.changer.confirm_replica(version).await {
                Ok(()) => Response::Done,
                Err(e) => refused(e.to_string()),
            },
            Request::Rollback { version } => {
                let peer = self.link.status().peer;
                match self.changer.rollback_replica(version, &peer).await {
                    Ok(()) => Response::Done,
                    Err(e) => refused(e.to_string()),
                }
            }
            Request::List => self.list(),
            Request::Fetch { versions } => self.fetch(&versions),
            Request::Bans { bans } => {
                let prefix = self.prefix().await;
                ban(bans.into_iter().take(MAX_BANS).collect(), prefix).await
            }
            Request::Unban { addr } => unban(addr, self.prefix().await).await,
            Request::Relay { ms } => self.relay(ms).await,
        }
    }
}

async fn ban(bans: Vec<BanEntry>, prefix: u8) -> Response {
    let done = tokio::task::spawn_blocking(move || {
        let mut failed = Vec::new();
        for b in bans {
            let scope = if b.admin {
                firewall::BanScope::Admin
            } else {
                firewall::BanScope::All
            };
            let d = Duration::from_secs(b.secs);
            match firewall::ban_add(b.addr, d, scope, prefix) {
                Ok(()) => {
                    tracing::info!(addr = %b.addr, secs = b.secs, ?scope, "sync: ban from the peer")
                }
                Err(e) => failed.push(format!("ban {}: {e}", b.addr)),
            }
        }
        failed
    })
    .await;
    match done {
        Ok(failed) if failed.is_empty() => Response::Done,
        Ok(failed) => refused(failed.join("; ")),
        Err(e) => refused(e.to_string()),
    }
}

async fn unban(addr: IpAddr, prefix: u8) -> Response {
    let done = tokio::task::spawn_blocking(move || {
        firewall::ban_del(addr, prefix).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    match done {
        Ok(_) => {
            tracing::info!(%addr, "sync: ban lifted by the peer");
            Response::Done
        }
        Err(e) => refused(format!("unban {addr}: {e}")),
    }
}
