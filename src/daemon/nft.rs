//! The nftables side of the appliance as the daemon drives it: the
//! [`Firewall`] trait (the firewall step of a change, and the runtime
//! operations the views and the ban routes call) and [`Nft`], the real one
//! running `nft` in the current network namespace. The trait is the place
//! where a test puts a recording firewall under the real daemon, so that
//! the change engine, the store and the forwarder stay real while the
//! host's own table is never touched. The trait is pure; [`Nft`] does I/O.

use std::net::IpAddr;
use std::time::Duration;

use crate::config::Config;
use crate::firewall::{self, Ban, BanScope, FirewallError, RuleCounter, SetFill};

/// What the daemon asks of the firewall. Each call is synchronous and may
/// block briefly (the real one waits for an `nft` child).
pub trait Firewall: Send + Sync {
    /// Whether `cfg`'s ruleset would be accepted, changing nothing.
    fn check(&self, cfg: &Config) -> Result<(), FirewallError>;
    /// Replaces the table with `cfg`'s ruleset in one transaction; bans survive.
    fn apply(&self, cfg: &Config) -> Result<(), FirewallError>;
    /// The loaded table as text.
    fn ruleset_text(&self) -> Result<String, FirewallError>;
    /// Every rule's counter, in listing order.
    fn counters(&self) -> Result<Vec<RuleCounter>, FirewallError>;
    /// The bans in force.
    fn bans(&self) -> Result<Vec<Ban>, FirewallError>;
    /// Bans `addr` (IPv6: its `v6_prefix`) in `scope` for `duration`.
    fn ban_add(
        &self,
        addr: IpAddr,
        duration: Duration,
        scope: BanScope,
        v6_prefix: u8,
    ) -> Result<(), FirewallError>;
    /// Lifts every ban on `addr`; `false` if there was none.
    fn ban_del(&self, addr: IpAddr, v6_prefix: u8) -> Result<bool, FirewallError>;
    /// How full the dynamic sets are.
    fn set_fill(&self) -> Result<Vec<SetFill>, FirewallError>;
}

/// The real firewall: `table inet parvis` through the `nft` binary.
#[derive(Debug, Clone, Copy, Default)]
pub struct Nft;

impl Firewall for Nft {
    fn check(&self, cfg: &Config) -> Result<(), FirewallError> {
        firewall::check(cfg)
    }

    fn apply(&self, cfg: &Config) -> Result<(), FirewallError> {
        firewall::apply(cfg).map(|_| ())
    }

    fn ruleset_text(&self) -> Result<String, FirewallError> {
        firewall::ruleset_text()
    }

    fn counters(&self) -> Result<Vec<RuleCounter>, FirewallError> {
        firewall::counters()
    }

    fn bans(&self) -> Result<Vec<Ban>, FirewallError> {
        firewall::bans()
    }

    fn ban_add(
        &self,
        addr: IpAddr,
        duration: Duration,
        scope: BanScope,
        v6_prefix: u8,
    ) -> Result<(), FirewallError> {
        firewall::ban_add(addr, duration, scope, v6_prefix)
    }

    fn ban_del(&self, addr: IpAddr, v6_prefix: u8) -> Result<bool, FirewallError> {
        firewall::ban_del(addr, v6_prefix)
    }

    fn set_fill(&self) -> Result<Vec<SetFill>, FirewallError> {
        firewall::set_fill()
    }
}
