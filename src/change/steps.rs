//! The seam between the change engine and the modules that touch the
//! system: the [`Steps`] the daemon implements (nft, netlink, forwarder
//! reload with the admin and metrics sockets), and their error. Pure (a trait and types).

use std::fmt;

use futures::future::BoxFuture;

use crate::config::Config;

/// A step failed; the message is the step's own (e.g. nft's stderr).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StepError {
    /// What went wrong, for the operator.
    pub message: String,
}

impl StepError {
    /// A step error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        StepError {
            message: message.into(),
        }
    }
}

/// One stage of an apply, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// [`Steps::check`]: dry run, no side effects.
    Check,
    /// [`Steps::apply_firewall`]: the nftables table.
    Firewall,
    /// [`Steps::apply_net`]: links, addresses, routes.
    Net,
    /// [`Steps::apply_forwarder`]: listeners, route tables, backends.
    Forwarder,
}

impl Step {
    /// The steps that change the system, in apply order.
    pub const APPLY: [Step; 3] = [Step::Firewall, Step::Net, Step::Forwarder];
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Check => "check",
            Step::Firewall => "firewall",
            Step::Net => "interfaces",
            Step::Forwarder => "listeners",
        })
    }
}

/// What the daemon does to carry out a config. Each `apply_*` brings its
/// part of the system to exactly `new`, whatever it was before (idempotent,
/// whole: the firewall replaces the table in one transaction, the forwarder
/// swaps its tables whole), because the same call undoes a failed change
/// (with the previous config) and restores a complete version at startup.
pub trait Steps: Send + Sync {
    /// Checks `new` without committing anything (e.g. `nft -c`, a bind test).
    fn check<'a>(&'a self, new: &'a Config) -> BoxFuture<'a, Result<(), StepError>>;
    /// Replaces the nftables ruleset with `new`'s.
    fn apply_firewall<'a>(&'a self, new: &'a Config) -> BoxFuture<'a, Result<(), StepError>>;
    /// Brings links, addresses and routes to `new`'s.
    fn apply_net<'a>(&'a self, new: &'a Config) -> BoxFuture<'a, Result<(), StepError>>;
    /// Opens/closes listeners, swaps route tables and backends to `new`'s;
    /// removed listeners drain. Also moves the admin and metrics sockets to
    /// `new`'s addresses (the new socket bound before the old one closes)
    /// and serves `new`'s admin certificate to new handshakes.
    fn apply_forwarder<'a>(&'a self, new: &'a Config) -> BoxFuture<'a, Result<(), StepError>>;
}

/// Calls one step.
pub(crate) async fn call(steps: &dyn Steps, step: Step, config: &Config) -> Result<(), StepError> {
    match step {
        Step::Check => steps.check(config).await,
        Step::Firewall => steps.apply_firewall(config).await,
        Step::Net => steps.apply_net(config).await,
        Step::Forwarder => steps.apply_forwarder(config).await,
    }
}
