//! Following the links: a netlink socket subscribed to link and address
//! events (`RTMGRP_LINK`, `RTMGRP_IPV4_IFADDR`, `RTMGRP_IPV6_IFADDR`)
//! refreshes the live snapshot as soon as something changes, and logs
//! carrier changes when they happen. Counters are refreshed on a timer.
//! Does I/O (netlink).

use std::future::Future;
use std::time::Duration;

use futures::StreamExt;
use rtnetlink::MulticastGroup;
use tokio::sync::watch as channel;

use super::{link_events, link_states, netlink, LinkState, NetError, Roles};

/// Publishes the link snapshot in `state` until `shutdown` completes:
/// at once, after each link or address event, and every `refresh`.
/// Each carrier change is logged at info level.
pub async fn watch(
    roles: Roles,
    state: channel::Sender<Vec<LinkState>>,
    refresh: Duration,
    shutdown: impl Future<Output = ()>,
) -> Result<(), NetError> {
    let groups = [
        MulticastGroup::Link,
        MulticastGroup::Ipv4Ifaddr,
        MulticastGroup::Ipv6Ifaddr,
    ];
    let (conn, handle, mut events) =
        rtnetlink::new_multicast_connection(&groups).map_err(NetError::Socket)?;
    let conn = tokio::spawn(conn);
    let mut last = link_states(&netlink::observe_with(&handle).await?, &roles);
    state.send_replace(last.clone());
    let mut tick = tokio::time::interval(refresh);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    let result = loop {
        tokio::select! {
            () = &mut shutdown => break Ok(()),
            event = events.next() => if event.is_none() {
                break Err(NetError::Netlink {
                    op: "ip monitor link".into(),
                    message: "the netlink event socket closed".into(),
                });
            },
            _ = tick.tick() => {}
        }
        let now = match netlink::observe_with(&handle).await {
            Ok(observed) => link_states(&observed, &roles),
            Err(e) => break Err(e),
        };
        for event in link_events(&last, &now) {
            tracing::info!(target: "parvis::net", "{event}");
        }
        state.send_replace(now.clone());
        last = now;
    };
    conn.abort();
    result
}
