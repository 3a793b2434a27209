//! The planned handover (`parvis ha handover`), make-before-break: the
//! peer is asked to relay this node's connections, this node keeps the
//! public VIP as a local address (no ARP) so it goes on serving, then
//! stands by (FAULT: keepalived sends priority 0 and the peer takes over
//! after its skew time), rejoins as BACKUP once the peer answers for the
//! VIPs, and finally drains: connections it relays keep working until they
//! end or [`drain::DRAIN`] passes. Does I/O.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::drain::{self, RelayFn};
use super::pair::Pair;
use super::state::Role;

/// What the handover's answer says in the "neutron" mode: the drain runs
/// as in the VRRP mode (it holds the VIP on the old master until the
/// switch), but the connections it would keep are cut anyway.
pub const NEUTRON_NO_DRAIN: &str = "user-space connections are not kept in the \"neutron\" mode: the floating IP moves to the peer's own address, where they do not exist, and they are cut when Neutron moves it";

/// How long the peer relays beyond the drain (the drain's end tells it
/// sooner).
const RELAY_MARGIN: Duration = Duration::from_secs(5);

impl Pair {
    /// Planned handover. `relay` asks the peer to relay this node's
    /// connections (the config sync channel); without it, or if the peer
    /// refuses, user-space connections are cut as on a crash (said in the
    /// answer). The event log records the drain's end.
    pub async fn handover(&self, relay: Option<RelayFn>) -> Result<String, String> {
        let role = self.state().view().role;
        if role != Role::Master {
            return Err(format!(
                "this node is {}, not MASTER: nothing to hand over",
                role.as_str()
            ));
        }
        let draining = self.prepare_drain(relay.as_ref()).await;
        let start = Instant::now();
        let taken = self.stand_by().await;
        let took = start.elapsed();
        if let Err(e) = taken {
            if let Ok(plan) = draining {
                release(&plan, relay).await;
            }
            return Err(e);
        }
        let wait = self.ha.advert * 4 + Duration::from_secs(2);
        poll(wait, || self.state().view().role == Role::Backup).await;
        let drained = match draining {
            Ok(plan) => {
                let left = drain::established_on(
                    &std::fs::read_to_string("/proc/net/tcp").unwrap_or_default(),
                    plan.vip,
                );
                let log = self.log.clone();
                tokio::spawn(async move {
                    let left = drain::wait_drained(plan.vip, drain::DRAIN).await;
                    release(&plan, relay).await;
                    log(
                        "ha",
                        if left == 0 {
                            "drain done: no user-space connection left".to_string()
                        } else {
                            format!("drain time over: {left} user-space connection(s) cut")
                        },
                    );
                });
                format!(
                    "; {left} user-space connection(s) drain here for up to {} s (the peer relays them)",
                    drain::DRAIN.as_secs()
                )
            }
            Err(why) => format!("; user-space connections were not drained: {why}"),
        };
        let drained = if self.ha.mode == crate::config::HaMode::Neutron {
            format!("; {NEUTRON_NO_DRAIN}")
        } else {
            drained
        };
        Ok(format!(
            "peer {} took both VIPs in {} ms; this node is {}{drained}",
            self.place.peer.name,
            took.as_millis(),
            self.state().view().role.as_str()
        ))
    }

    /// Asks the peer to relay, then keeps the public VIP here.
    async fn prepare_drain(&self, relay: Option<&RelayFn>) -> Result<drain::Plan, String> {
        let plan = self
            .drain
            .clone()
            .ok_or("the drain tunnel is not set up on this node")?;
        let relay = relay.ok_or("no config sync channel to the peer")?;
        relay(drain::DRAIN + RELAY_MARGIN)
            .await
            .map_err(|e| format!("the peer does not relay: {e}"))?;
        drain::hold(&plan, true).await?;
        Ok(plan)
    }

    /// Stands by until the peer answers ARP for the internal VIP, then
    /// rejoins the election; an error if the peer did not take over.
    async fn stand_by(&self) -> Result<(), String> {
        self.set_standby(true)?;
        let wait = self.ha.advert * 4 + Duration::from_secs(2);
        let left = poll(wait, || self.state().view().role == Role::Fault).await;
        let vip = self.ha.vip_internal.0.addr();
        let taken = left && peer_answers(vip, &self.place.internal, wait).await;
        self.set_standby(false)?;
        if taken {
            Ok(())
        } else {
            Err(format!(
                "the peer {} did not take {vip} within {wait:?}; this node rejoined the election",
                self.place.peer.name
            ))
        }
    }
}

/// Lets go of the VIP here and tells the peer to stop relaying.
async fn release(plan: &drain::Plan, relay: Option<RelayFn>) {
    if let Err(e) = drain::hold(plan, false).await {
        tracing::warn!(error = %e, "drain: releasing the VIP");
    }
    if let Some(r) = relay {
        if let Err(e) = r(Duration::ZERO).await {
            tracing::warn!(error = %e, "drain: the peer will stop relaying on its own");
        }
    }
}

/// Polls `cond` every 20 ms until it holds or `within` passes.
async fn poll(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Does another host on `dev` answer ARP for `vip`? Flushes the neighbour
/// entry, sends a datagram to make the kernel resolve it, and reads the
/// entry back with `ip -j neigh`.
async fn peer_answers(vip: IpAddr, dev: &str, within: Duration) -> bool {
    let ip = vip.to_string();
    let _ = tokio::process::Command::new("ip")
        .args(["neigh", "flush", "to", &ip, "dev", dev])
        .output()
        .await;
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(s) = tokio::net::UdpSocket::bind("0.0.0.0:0").await {
            let _ = s.send_to(b"", SocketAddr::new(vip, 9)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let out = tokio::process::Command::new("ip")
            .args(["-j", "neigh", "show", "to", &ip, "dev", dev])
            .output()
            .await;
        if let Ok(o) = out {
            if neigh_resolved(&String::from_utf8_lossy(&o.stdout)) {
                return true;
            }
        }
    }
    false
}

/// True when `ip -j neigh` shows a resolved entry (a MAC, REACHABLE or
/// newer than a probe).
fn neigh_resolved(json: &str) -> bool {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(json) else {
        return false;
    };
    v.as_array().is_some_and(|entries| {
        entries.iter().any(|e| {
            e.get("lladdr").is_some()
                && e.get("state").and_then(|s| s.as_array()).is_some_and(|s| {
                    s.iter().any(|x| {
                        matches!(x.as_str(), Some("REACHABLE" | "STALE" | "DELAY" | "PROBE"))
                    })
                })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbour_entry_is_resolved_only_with_a_mac() {
        assert!(neigh_resolved(
            r#"[{"dst":"10.0.0.1","dev":"ens4","lladdr":"fa:16:3e:00:00:02","state":["REACHABLE"]}]"#
        ));
        assert!(!neigh_resolved(
            r#"[{"dst":"10.0.0.1","dev":"ens4","state":["INCOMPLETE"]}]"#
        ));
        assert!(!neigh_resolved(
            r#"[{"dst":"10.0.0.1","dev":"ens4","state":["FAILED"]}]"#
        ));
        assert!(!neigh_resolved("[]"));
        assert!(!neigh_resolved("garbage"));
    }
}
