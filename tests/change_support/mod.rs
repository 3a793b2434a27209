//! Test double for the kernel-facing apply steps, and config texts for the
//! change-engine tests.
//!
//! `Recorder` stands in for the real steps (nft, netlink, forwarder reload):
//! those need root and the other branches' modules, and the lead exercises
//! them end to end in namespaces. Here the engine's own logic is under test —
//! which steps it calls, in what order, with which config, and what it
//! records — so the double records every call, can be told to fail one step
//! for one config, and can mirror each step's state into a "kernel" folder
//! (one file per step holding the config name) to detect mixed states.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use std::sync::Arc;

use futures::future::BoxFuture;
use parvis::change::{ApplyOutcome, Changer, Step, StepError, Steps};
use parvis::config::Config;
use parvis::store::{Author, Origin, Store, VersionState};

/// Records calls as `(step, appliance.name)`.
#[derive(Default)]
pub struct Recorder {
    /// Every call, in order.
    pub calls: Mutex<Vec<(Step, String)>>,
    /// Fail this step when called with a config of this name.
    pub fail: Mutex<Option<(Step, String)>>,
    /// Mirror each applied step into this folder (`firewall`, `net`, `forwarder`).
    pub kernel: Option<PathBuf>,
    /// Time each step takes.
    pub delay: Duration,
}

impl Recorder {
    /// A recorder that mirrors steps into `kernel` and takes `delay` per step.
    pub fn with_kernel(kernel: PathBuf, delay: Duration) -> Recorder {
        Recorder {
            kernel: Some(kernel),
            delay,
            ..Recorder::default()
        }
    }

    /// Makes `step` fail for the config named `name`.
    pub fn fail_at(&self, step: Step, name: &str) {
        *lock(&self.fail) = Some((step, name.to_string()));
    }

    /// The calls so far, as `"step:name"`, and forgets them.
    pub fn take(&self) -> Vec<String> {
        let calls = std::mem::take(&mut *lock(&self.calls));
        calls
            .into_iter()
            .map(|(s, n)| format!("{}:{n}", short(s)))
            .collect()
    }

    fn step<'a>(&'a self, step: Step, config: &'a Config) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            let name = config.appliance.name.clone();
            lock(&self.calls).push((step, name.clone()));
            if !self.delay.is_zero() {
                tokio::time::sleep(self.delay).await;
            }
            if lock(&self.fail).as_ref() == Some(&(step, name.clone())) {
                return Err(StepError::new(format!(
                    "{} refused {name} (test double)",
                    short(step)
                )));
            }
            if let (Some(dir), false) = (&self.kernel, step == Step::Check) {
                std::fs::write(dir.join(short(step)), &name)
                    .map_err(|e| StepError::new(format!("kernel double: {e}")))?;
            }
            Ok(())
        })
    }
}

impl Steps for Recorder {
    fn check<'a>(&'a self, new: &'a Config) -> BoxFuture<'a, Result<(), StepError>> {
        self.step(Step::Check, new)
    }
    fn apply_firewall<'a>(&'a self, new: &'a Config) -> BoxFuture<'a, Result<(), StepError>> {
        self.step(Step::Firewall, new)
    }
    fn apply_net<'a>(&'a self, new: &'a Config) -> BoxFuture<'a, Result<(), StepError>> {
        self.step(Step::Net, new)
    }
    fn apply_forwarder<'a>(&'a self, new: &'a Config) -> BoxFuture<'a, Result<(), StepError>> {
        self.step(Step::Forwarder, new)
    }
}

/// A short name per step, for assertions.
pub fn short(step: Step) -> &'static str {
    match step {
        Step::Check => "check",
        Step::Firewall => "firewall",
        Step::Net => "net",
        Step::Forwarder => "forwarder",
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The knobs of a test config: each touches one apply step.
#[derive(Clone)]
pub struct Knobs {
    /// `appliance.name`: identifies the config in the recorder.
    pub name: String,
    /// `admin.allow` items (firewall).
    pub allow: &'static str,
    /// MTU of the public port (interfaces).
    pub mtu: u32,
    /// Servers of the backend (forwarder).
    pub servers: &'static str,
    /// `admin.ssh_port` (firewall; safety net).
    pub ssh_port: u16,
}

impl Knobs {
    /// The base config named `name`.
    pub fn new(name: &str) -> Knobs {
        Knobs {
            name: name.to_string(),
            allow: "\"198.51.100.0/24\"",
            mtu: 1450,
            servers: "\"10.0.0.11:443\"",
            ssh_port: 22,
        }
    }

    /// The TOML text.
    pub fn text(&self) -> String {
        format!(
            r#"[appliance]
name = "{}"

[interfaces.public]
name = "pvtest0"
mtu = {}

[admin]
listen = "127.0.0.1:8443"
allow = [{}]
ssh_port = {}

[[listener]]
name = "https"
bind = "127.0.0.1:8444"
protocol = "tls"
default_backend = "ingress"

[backend.ingress]
servers = [{}]
"#,
            self.name, self.mtu, self.allow, self.ssh_port, self.servers
        )
    }
}

/// An engine over the store in `dir`, with a fresh recorder.
pub fn engine(dir: &std::path::Path) -> (Changer, Arc<Recorder>) {
    let rec = Arc::new(Recorder::default());
    let store = Store::open(dir).expect("store opens");
    (Changer::new(store, rec.clone()), rec)
}

/// A CLI origin.
pub fn cli() -> Origin {
    Origin::new(Author::Cli)
}

/// An engine running version 1 (config "a", first boot), with the calls cleared.
pub async fn running_a(dir: &std::path::Path) -> (Changer, Arc<Recorder>) {
    let (ch, rec) = engine(dir);
    let out = ch
        .startup(Some(&Knobs::new("a").text()))
        .await
        .expect("first boot");
    assert!(
        matches!(out, Some(ApplyOutcome::Applied { version: 1, .. })),
        "{out:?}"
    );
    assert_eq!(
        rec.take(),
        ["check:a", "firewall:a", "net:a", "forwarder:a"]
    );
    (ch, rec)
}

/// The stored state of version `v`.
pub fn state(ch: &Changer, v: u64) -> VersionState {
    ch.store().get(v).expect("version stored").0.state
}

/// A config named `name` that needs all three steps after "a".
pub fn all_steps(name: &str) -> String {
    let mut k = Knobs::new(name);
    k.allow = "\"198.51.100.0/24\", \"203.0.113.0/24\"";
    k.mtu = 1400;
    k.text()
}
