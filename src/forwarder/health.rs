//! Active health checks: a TCP connect per interval, with a valid PROXY
//! header (v2 LOCAL or a v1 UNKNOWN line) for PROXY backends so strict peers
//! log no error. Does I/O.

use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::backend::ServerState;
use super::proxy_header;
use crate::config::{Health, ProxyVersion};

/// Checks one server until `stop`, moving it down after `fall` failures in
/// a row and up after `rise` successes in a row.
pub async fn run(
    backend: String,
    server: Arc<ServerState>,
    health: Health,
    proxy: ProxyVersion,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(health.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut fails, mut oks) = (0u32, 0u32);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let result = tokio::select! {
            _ = stop.cancelled() => return,
            r = check(&server, health, proxy) => r,
        };
        match result {
            Ok(()) => {
                fails = 0;
                oks = oks.saturating_add(1);
                if oks >= health.rise && server.set_up(true) {
                    tracing::info!(backend, server = %server.addr, "backend up");
                }
            }
            Err(why) => {
                oks = 0;
                fails = fails.saturating_add(1);
                if fails >= health.fall && server.set_up(false) {
                    tracing::warn!(backend, server = %server.addr, %why, "backend down");
                }
            }
        }
    }
}

async fn check(server: &ServerState, health: Health, proxy: ProxyVersion) -> Result<(), String> {
    let attempt = async {
        let mut stream = TcpStream::connect(server.addr).await?;
        let header = proxy_header::encode_health(proxy);
        if !header.is_empty() {
            stream.write_all(&header).await?;
        }
        stream.shutdown().await
    };
    match tokio::time::timeout(health.timeout, attempt).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timeout".into()),
    }
}
