//! The real [`Steps`] of a change: the nftables table (through a
//! [`Firewall`], the real [`Nft`] unless a test gives another), the links
//! and the user-space listeners. Each step brings its part of the system to exactly
//! the config it is given, so the change manager can undo a step by
//! applying the previous config to it. Does I/O.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use tokio::sync::watch;

use super::nft::{Firewall, Nft};
use crate::change::{StepError, Steps};
use crate::config::Config;
use crate::forwarder::Forwarder;
use crate::net::{self, metadata::Metadata, Roles};

/// How the last nftables apply went, for `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct NftStats {
    /// Duration of the last apply.
    pub last: Duration,
    /// Whether it succeeded.
    pub last_ok: bool,
    /// Successful applies.
    pub ok: u64,
    /// Refused applies.
    pub failed: u64,
}

/// The parts of the appliance a config drives.
pub struct Kernel {
    forwarder: Mutex<Option<Arc<Forwarder>>>,
    firewall: Arc<dyn Firewall>,
    metadata: Option<Metadata>,
    roles: watch::Sender<Roles>,
    nft: Mutex<NftStats>,
    /// The admin port and `/metrics`, once the daemon has opened them.
    doors: std::sync::OnceLock<Arc<super::doors::Doors>>,
}

impl Kernel {
    /// A kernel with nothing applied yet; `metadata` feeds the link plan.
    pub fn new(metadata: Option<Metadata>) -> Kernel {
        Kernel::with_firewall(metadata, Arc::new(Nft))
    }

    /// A kernel driving `firewall` instead of the real `nft` (a test's
    /// recording firewall); the links and the forwarder are the real ones.
    pub fn with_firewall(metadata: Option<Metadata>, firewall: Arc<dyn Firewall>) -> Kernel {
        Kernel {
            forwarder: Mutex::new(None),
            firewall,
            metadata,
            roles: watch::channel(Roles::default()).0,
            nft: Mutex::new(NftStats::default()),
            doors: std::sync::OnceLock::new(),
        }
    }

    /// The running forwarder, once the first config has started it.
    pub fn forwarder(&self) -> Option<Arc<Forwarder>> {
        self.forwarder.lock().ok().and_then(|f| f.clone())
    }

    /// The firewall this kernel drives.
    pub fn firewall(&self) -> &dyn Firewall {
        self.firewall.as_ref()
    }

    /// The NIC roles found by the last link plan.
    pub fn roles(&self) -> watch::Receiver<Roles> {
        self.roles.subscribe()
    }

    /// How nftables applies went.
    pub fn nft_stats(&self) -> NftStats {
        self.nft.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// From now on the listeners step also moves the admin port and
    /// `/metrics` and swaps the admin certificate (before this, at start,
    /// they are not open yet).
    pub fn attach_doors(&self, doors: Arc<super::doors::Doors>) {
        let _ = self.doors.set(doors);
    }

    /// The admin port and `/metrics`, once open.
    pub fn doors(&self) -> Option<&Arc<super::doors::Doors>> {
        self.doors.get()
    }

    /// Takes the forwarder out for shutdown.
    pub fn take_forwarder(&self) -> Option<Arc<Forwarder>> {
        self.forwarder.lock().ok().and_then(|mut f| f.take())
    }

    fn apply_table(&self, cfg: &Config) -> Result<(), StepError> {
        let started = Instant::now();
        let result = self.firewall.apply(cfg);
        if let Ok(mut s) = self.nft.lock() {
            s.last = started.elapsed();
            s.last_ok = result.is_ok();
            if result.is_ok() {
                s.ok += 1;
            } else {
                s.failed += 1;
            }
        }
        result.map_err(|e| StepError::new(e.to_string()))
    }

    fn listeners(&self, cfg: &Config) -> Result<(), StepError> {
        let mut slot = self
            .forwarder
            .lock()
            .map_err(|_| StepError::new("forwarder state poisoned"))?;
        match slot.as_ref() {
            Some(f) => f.reload(cfg).map_err(|e| StepError::new(e.to_string())),
            None => {
                let f = Forwarder::start(cfg).map_err(|e| StepError::new(e.to_string()))?;
                *slot = Some(Arc::new(f));
                Ok(())
            }
        }
    }
}

impl Steps for Kernel {
    fn check<'a>(&'a self, new: &'a Config) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            let (cfg, firewall) = (new.clone(), self.firewall.clone());
            tokio::task::spawn_blocking(move || firewall.check(&cfg))
                .await
                .map_err(|e| StepError::new(e.to_string()))?
                .map_err(|e| StepError::new(e.to_string()))
        })
    }

    fn apply_firewall<'a>(&'a self, new: &'a Config) -> BoxFuture<'a, Result<(), StepError>> {
        // nft is quick and its child process is waited for synchronously;
        // block_in_place keeps the reactor free without cloning the config.
        Box::pin(async move { tokio::task::block_in_place(|| self.apply_table(new)) })
    }

    fn apply_net<'a>(&'a self, new: &'a Config) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            if new.interfaces.is_none() {
                return Ok(());
            }
            let (roles, changes) = net::netlink::configure(new, self.metadata.as_ref(), false)
                .await
                .map_err(|e| StepError::new(e.to_string()))?;
            for c in &changes {
                tracing::info!(change = %c, "interfaces");
            }
            self.roles.send_replace(roles);
            Ok(())
        })
    }

    fn apply_forwarder<'a>(&'a self, new: &'a Config) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            self.listeners(new)?;
            match self.doors.get() {
                Some(doors) => doors.apply(new).await,
                None => Ok(()),
            }
        })
    }
}
