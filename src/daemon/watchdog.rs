//! The systemd watchdog, fed only while the daemon really works: the change
//! engine answers (its state lock is free within [`ENGINE_ANSWER`]) and every
//! accept loop of the forwarder goes round (its heartbeat is younger than
//! [`LOOP_STALL`]). A hung engine or a stuck accept loop stops the pings,
//! and systemd restarts the daemon after `WatchdogSec` (the nftables table
//! stays in force meanwhile). Does I/O (notify datagrams).

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{notify, Daemon};

/// How long the change engine may take to answer. An apply holds the engine
/// while it runs; the slowest measured here (1,000 forwards and 50,000
/// blocked prefixes) takes about a second.
pub const ENGINE_ANSWER: Duration = Duration::from_secs(10);
/// How long an accept loop may go without a round (it wakes every second).
pub const LOOP_STALL: Duration = Duration::from_secs(5);

/// Pings systemd every half `WatchdogSec` (capped at a second) while
/// [`check`] passes; logs once when it stops passing and once when it
/// passes again. Without `$WATCHDOG_USEC` it returns at once.
pub async fn run(daemon: Arc<Daemon>, token: CancellationToken) {
    let Some(every) = notify::watchdog_interval() else {
        return;
    };
    let mut tick = tokio::time::interval(every.min(Duration::from_secs(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = token.cancelled() => return,
        }
        let verdict = tokio::select! {
            v = check(&daemon) => v,
            () = token.cancelled() => return,
        };
        match verdict {
            Ok(()) => {
                notify::notify("WATCHDOG=1");
                if failing {
                    daemon.log(
                        "watchdog",
                        "the daemon answers again; systemd's watchdog is fed",
                    );
                    failing = false;
                }
            }
            Err(why) => {
                if !failing {
                    daemon.log(
                        "error",
                        format!(
                            "watchdog not fed ({why}); systemd restarts the daemon if this lasts"
                        ),
                    );
                    failing = true;
                }
            }
        }
    }
}

/// `Ok` when the change engine answers and every accept loop goes round.
pub async fn check(daemon: &Daemon) -> Result<(), String> {
    if tokio::time::timeout(ENGINE_ANSWER, daemon.changer.running())
        .await
        .is_err()
    {
        return Err(format!(
            "the change engine has not answered for {} s",
            ENGINE_ANSWER.as_secs()
        ));
    }
    let stalled = daemon
        .kernel
        .forwarder()
        .map(|f| f.stalled_listeners(LOOP_STALL))
        .unwrap_or_default();
    if stalled.is_empty() {
        Ok(())
    } else {
        let why: Vec<String> = stalled
            .iter()
            .map(|(name, e)| format!("listener {name}: {e}"))
            .collect();
        Err(why.join("; "))
    }
}
