//! Catching up after a heartbeat (see [`super::plan`]): follow the peer
//! (copy the history this node lacks, apply the peer's version with its
//! number, mark what was lost to a partition), or lead (re-issue this
//! node's version above both histories when the peer holds another config
//! under the same number); and the bans this node holds, sent when the
//! peer (re)appears. Does I/O (the channel, the change engine, nft).

use super::link::{Link, COMMIT_TIMEOUT};
use super::plan::{plan, Plan};
use std::time::Duration;

use super::wire::{hash, BanEntry, Entry, Listed, NodeState, Request, Response, MAX_BANS};
use crate::firewall;
use crate::store::VersionMeta;

impl Link {
    /// Acts on what the heartbeat showed; `first`: the peer just (re)appeared.
    pub(super) async fn settle(
        &self,
        me: &NodeState,
        peer: &NodeState,
        first: bool,
    ) -> Result<(), String> {
        match plan(me, peer) {
            Plan::Follow => self.follow(me, peer).await,
            Plan::Lead => self.lead(me, peer).await,
            Plan::Confirm => {
                tracing::info!(
                    version = me.running,
                    "sync: confirmed on the peer, confirming here"
                );
                self.changer
                    .confirm_replica(me.running)
                    .await
                    .map_err(|e| e.to_string())
            }
            Plan::InSync if first || peer.last > me.last => self.fill(None).await.map(drop),
            Plan::InSync | Plan::Wait => Ok(()),
        }
    }

    async fn list(&self) -> Result<Vec<Listed>, String> {
        match self.ask(&Request::List, COMMIT_TIMEOUT).await {
            Ok(Response::Listing { versions }) => Ok(versions),
            Ok(other) => Err(format!("unexpected answer to List: {other:?}")),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Copies the peer's versions this node lacks (history only); returns
    /// the peer's listing.
    async fn fill(&self, listing: Option<Vec<Listed>>) -> Result<Vec<Listed>, String> {
        let listing = match listing {
            Some(l) => l,
            None => self.list().await?,
        };
        let store = self.changer.store();
        let missing: Vec<u64> = listing
            .iter()
            .map(|l| l.meta.version)
            .filter(|&n| store.get(n).is_err())
            .collect();
        if missing.is_empty() {
            return Ok(listing);
        }
        for (meta, text) in self.fetch(missing).await? {
            if let Err(err) = self.changer.record_replica(&meta, &text) {
                tracing::warn!(version = meta.version, error = %err, "sync: history copy");
            }
        }
        Ok(listing)
    }

    /// The peer's `versions`, each marked as made on the peer unless it
    /// names another node.
    async fn fetch(&self, versions: Vec<u64>) -> Result<Vec<(VersionMeta, String)>, String> {
        let req = Request::Fetch { versions };
        let entries = match self.ask(&req, COMMIT_TIMEOUT).await {
            Ok(Response::Entries { entries }) => entries,
            Ok(other) => return Err(format!("unexpected answer to Fetch: {other:?}")),
            Err(e) => return Err(e.to_string()),
        };
        let peer = self.status().peer;
        Ok(entries
            .into_iter()
            .map(|e| {
                let mut meta = e.meta;
                meta.node = meta.node.or_else(|| Some(peer.clone()));
                (meta, e.text)
            })
            .collect())
    }

    /// The peer's version wins: take its history and apply its version.
    async fn follow(&self, me: &NodeState, peer: &NodeState) -> Result<(), String> {
        let store = self.changer.store();
        match store.get(peer.running) {
            // The same number holds another config here: the peer re-issues.
            Ok((_, t)) if hash(&t) != peer.hash => return Ok(()),
            // It failed here once: no retry every second; the divergence
            // stays flagged until an operator acts.
            Ok((m, _)) if m.state == crate::store::VersionState::Failed => return Ok(()),
            // Pending there, rolled back here (its deadline passed here a
            // moment earlier): it is about to roll back there too.
            Ok((m, _))
                if m.state == crate::store::VersionState::RolledBack
                    && peer.pending == Some(peer.running) =>
            {
                return Ok(())
            }
            _ => {}
        }
        let fresh = self.changer.is_fresh();
        let listing = self.fill(None).await?;
        let (meta, text) = store.get(peer.running).map_err(|e| e.to_string())?;
        let started = std::time::Instant::now();
        // Pending there: pending here too, with the same time left.
        let within = peer
            .pending
            .filter(|&v| v == peer.running)
            .and(peer.pending_ms)
            .map(std::time::Duration::from_millis);
        self.changer
            .apply_replica(meta, &text, within)
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(version = peer.running, took = ?started.elapsed(), "sync: caught up with the peer");
        let lost = me.running != 0
            && !listing
                .iter()
                .any(|l| l.meta.version == me.running && l.hash == me.hash);
        // A node rebuilt from an export of the pair's config: its version
        // is one the peer holds under another number. (A config in its
        // user data that the pair never had stays a conflict to report.)
        if lost && fresh && listing.iter().any(|l| l.hash == me.hash) {
            return self.adopt(me, &listing).await;
        }
        if lost {
            let why = format!(
                "superseded by {}'s version {}: both nodes changed the config while apart",
                peer.name, peer.running
            );
            let _ = store.set_state(
                me.running,
                crate::store::VersionState::RolledBack,
                Some(why.clone()),
            );
            self.conflict(format!("version {} made here was {why}", me.running));
        }
        Ok(())
    }

    /// A node rebuilt from an export (its history: the one version its
    /// first boot read, a text the peer holds too) now runs the peer's
    /// version: its own version
    /// under a number the peer uses is replaced by the peer's, so that both
    /// nodes hold one history. Not a conflict: nobody changed the config.
    async fn adopt(&self, me: &NodeState, listing: &[Listed]) -> Result<(), String> {
        let store = self.changer.store();
        let theirs: Vec<u64> = listing
            .iter()
            .filter(|l| {
                store
                    .get(l.meta.version)
                    .is_ok_and(|(_, t)| hash(&t) != l.hash)
            })
            .map(|l| l.meta.version)
            .collect();
        if theirs.is_empty() {
            return Ok(());
        }
        for (meta, text) in self.fetch(theirs).await? {
            self.changer
                .adopt_replica(&meta, &text)
                .map_err(|err| format!("version {}: {err}", meta.version))?;
        }
        let peer = self.status().peer;
        tracing::info!(
            version = me.running,
            "sync: rebuilt from its config file, this node took {peer}'s history in place of its first-boot version"
        );
        Ok(())
    }

    /// This node's version wins; if the peer holds another config under
    /// the same number, re-issue it above both histories and push it.
    async fn lead(&self, me: &NodeState, peer: &NodeState) -> Result<(), String> {
        let listing = self.list().await?;
        let clash = listing
            .iter()
            .any(|l| l.meta.version == me.running && l.hash != me.hash);
        if !clash {
            return Ok(());
        }
        let min = me.last.max(peer.last).saturating_add(1);
        let why = format!(
            "re-issued version {} above both histories ({} holds another version {}: both nodes changed the config while apart)",
            me.running, peer.name, me.running
        );
        let meta = self
            .changer
            .reissue(min, why.clone())
            .await
            .map_err(|e| e.to_string())?;
        self.conflict(why);
        if let Some(meta) = meta {
            if let Ok((meta, text)) = self.changer.store().get(meta.version) {
                self.push(Entry { meta, text }, None).await;
            }
        }
        Ok(())
    }

    /// When the peer (re)appears: sends it this node's bans with the time they
    /// have left, so bans made while it was away reach it too.
    pub(super) async fn share_bans(&self) {
        let bans = tokio::task::spawn_blocking(firewall::bans).await;
        let Ok(Ok(bans)) = bans else {
            return;
        };
        let list: Vec<BanEntry> = bans
            .into_iter()
            .filter_map(|b| {
                let left = b.expires_in.filter(|d| !d.is_zero())?;
                Some(BanEntry {
                    addr: b.addr,
                    secs: left.as_secs().max(1),
                    admin: b.scope == firewall::BanScope::Admin,
                })
            })
            .take(MAX_BANS)
            .collect();
        if list.is_empty() {
            return;
        }
        let _ = self
            .ask(&Request::Bans { bans: list }, Duration::from_secs(10))
            .await;
    }
}
