//! One forwarded connection: optional trusted PROXY header, ClientHello or
//! request head within `hello_timeout`, route, connect (one retry on
//! another server), PROXY header and the client's bytes in one write, then
//! the relay. Does I/O.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::accounting::{EndReason, LiveConn, RoutedBy};
use super::backend::BackendState;
use super::hello::{HelloReader, HelloStatus, MAX_HELLO, MAX_HELLO_RAW};
use super::proxy_header::{self, DecodeStatus, Decoded, MAX_HEADER};
use super::relay::{self, Counters};
use super::{http, ListenerCtx, Shared};
use crate::config::{canonical_ip, Protocol};

/// What was read before routing.
struct Preamble {
    client: SocketAddr,
    /// The address the client reached, from a trusted PROXY header.
    reached: Option<SocketAddr>,
    /// Offset in the buffer where the client's own bytes begin.
    start: usize,
    host: Option<String>,
    /// ALPN protocols the ClientHello offered.
    alpn: Vec<Vec<u8>>,
}

/// Serves one accepted connection to its end; returns how it ended.
pub async fn serve(
    shared: &Shared,
    ctx: &ListenerCtx,
    mut stream: TcpStream,
    peer: SocketAddr,
    live: &LiveConn,
) -> EndReason {
    let routing = shared.routing.load_full();
    let mut buf = Vec::with_capacity(4096);
    // tokio's timeout saturates far in the future: no deadline overflow.
    let reading = preamble(&mut stream, &mut buf, ctx, peer);
    let pre = match tokio::time::timeout(ctx.config.hello_timeout, reading).await {
        Ok(Ok(pre)) => pre,
        Ok(Err(reason)) => return reason,
        Err(_) => return EndReason::Timeout,
    };
    if pre.client != peer {
        live.set_client(pre.client);
    }
    let host = pre.host.as_deref();
    let Some(found) = routing
        .table
        .lookup_hello(&ctx.config.name, host, &pre.alpn)
    else {
        return EndReason::NoRoute;
    };
    let name = found.backend;
    let Some(backend) = routing.backends.get(name) else {
        return EndReason::NoRoute;
    };
    live.set_routed(RoutedBy {
        host: pre.host.as_deref(),
        backend: name,
        route: found.route,
        label: found.label,
        alpn: found.alpn.or(pre.alpn.first().map(Vec::as_slice)),
    });
    let Some((index, mut upstream)) = connect(backend, pre.client.ip()).await else {
        return EndReason::BackendDown;
    };
    let server = backend.servers[index].clone();
    let _active = server.begin();
    live.set_server(server.addr);
    let wanted = backend.config.proxy_v2_tlvs;
    let uid = wanted.unique_id.then(|| live.uid());
    let tlvs = proxy_header::Tlvs {
        authority: pre.host.as_deref(),
        alpn: found
            .alpn
            .or(pre.alpn.first().map(Vec::as_slice))
            .filter(|_| wanted.alpn),
        unique_id: uid.as_deref().map(str::as_bytes),
    };
    let reached = pre
        .reached
        .unwrap_or_else(|| local_addr(&stream, ctx.config.bind));
    let header =
        proxy_header::encode_tlvs(backend.config.proxy_protocol, pre.client, reached, &tlvs);
    // The header takes the place of what came before the client's own
    // bytes (a trusted PROXY header, or nothing): one write, no new buffer.
    let client_bytes = buf.len() - pre.start;
    buf.splice(..pre.start, header);
    if upstream.write_all(&buf).await.is_err() {
        return EndReason::BackendClosed;
    }
    live.bytes_in
        .fetch_add(client_bytes as u64, Ordering::Relaxed);
    drop(buf);
    // TCP_NODELAY is inherited from the listening socket (listener::bind).
    // The connection's new bytes reach its server's counter every
    // relay::TICK and at the end, so the per-server bytes move while a
    // connection is open.
    let mut flushed = (0u64, 0u64);
    let mut flush = || {
        let now = (
            live.bytes_in.load(Ordering::Relaxed),
            live.bytes_out.load(Ordering::Relaxed),
        );
        server.add_bytes(
            now.0.saturating_sub(flushed.0),
            now.1.saturating_sub(flushed.1),
        );
        flushed = now;
    };
    let counters = Counters {
        up: &live.bytes_in,
        down: &live.bytes_out,
        first_down: &|| live.mark_first_byte(),
        tick: &mut flush,
    };
    let reason = relay::relay(stream, upstream, ctx.config.idle_timeout, counters).await;
    flush();
    reason
}

/// The address the client reached: the listener's own when it is bound
/// to one address and port (no `getsockname` per connection), else the
/// socket's.
fn local_addr(stream: &TcpStream, bind: SocketAddr) -> SocketAddr {
    if bind.ip().is_unspecified() || bind.port() == 0 {
        stream.local_addr().unwrap_or(bind)
    } else {
        bind
    }
}

/// Reads the optional PROXY header and the ClientHello or request head.
async fn preamble(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    ctx: &ListenerCtx,
    peer: SocketAddr,
) -> Result<Preamble, EndReason> {
    let peer_ip = canonical_ip(peer.ip());
    let trusted = ctx.config.accept_proxy.iter().any(|c| c.contains(peer_ip));
    let mut pre = Preamble {
        client: SocketAddr::new(peer_ip, peer.port()),
        reached: None,
        start: 0,
        host: None,
        alpn: Vec::new(),
    };
    if trusted {
        trusted_header(stream, buf, &mut pre).await?;
    }
    let mut hello = HelloReader::new();
    let mut head = http::HeadReader::new();
    let mut checked_signature = trusted;
    loop {
        let data = &buf[pre.start..];
        if !checked_signature {
            match proxy_header::looks_like_header(data) {
                Some(true) => return Err(EndReason::ProxyRejected),
                Some(false) => checked_signature = true,
                None => {}
            }
        }
        if checked_signature {
            let host = match ctx.config.protocol {
                Protocol::Tls => match hello.poll(data) {
                    HelloStatus::Done(h) => {
                        pre.alpn = h.alpn;
                        Some(h.sni.name().map(str::to_string))
                    }
                    HelloStatus::NeedMore => None,
                    HelloStatus::Error(_) => return Err(EndReason::BadHello),
                },
                Protocol::Http => match head.poll(data) {
                    http::HeadStatus::Done { host, .. } => Some(host),
                    http::HeadStatus::NeedMore => None,
                    http::HeadStatus::Error(_) => return Err(EndReason::BadHello),
                },
            };
            if let Some(host) = host {
                pre.host = host;
                return Ok(pre);
            }
        }
        let limit = match ctx.config.protocol {
            Protocol::Tls => MAX_HELLO_RAW,
            Protocol::Http => MAX_HELLO,
        };
        read_more(stream, buf, pre.start + limit).await?;
    }
}

/// Reads and applies the PROXY header a trusted peer must send.
async fn trusted_header(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    pre: &mut Preamble,
) -> Result<(), EndReason> {
    loop {
        match proxy_header::decode(buf) {
            DecodeStatus::Done(decoded, len) => {
                pre.start = len;
                if let Decoded::Proxy {
                    source,
                    destination,
                } = decoded
                {
                    pre.client = SocketAddr::new(canonical_ip(source.ip()), source.port());
                    pre.reached = Some(destination);
                }
                return Ok(());
            }
            DecodeStatus::Error(_) => return Err(EndReason::ProxyRejected),
            DecodeStatus::NeedMore => read_more(stream, buf, MAX_HEADER).await.map_err(|r| {
                if r == EndReason::BadHello {
                    EndReason::ProxyRejected
                } else {
                    r
                }
            })?,
        }
    }
}

/// Appends what the socket has; end of stream is `ClientClosed` before any
/// byte and `BadHello` (truncated) after some.
async fn read_more(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    limit: usize,
) -> Result<(), EndReason> {
    if buf.len() >= limit {
        return Err(EndReason::BadHello);
    }
    buf.reserve(4096.min(limit - buf.len()).max(1));
    match stream.read_buf(buf).await {
        Ok(0) if buf.is_empty() => Err(EndReason::ClientClosed),
        Ok(0) => Err(EndReason::BadHello),
        Ok(_) => Ok(()),
        Err(_) => Err(EndReason::ClientClosed),
    }
}

/// Connects to a healthy server; after a failure, once more to another one.
async fn connect(backend: &BackendState, client: IpAddr) -> Option<(usize, TcpStream)> {
    let mut exclude = None;
    for _ in 0..2 {
        let index = backend.pick(client, exclude)?;
        let addr = backend.servers[index].addr;
        let attempt = tokio::time::timeout(backend.config.health.timeout, TcpStream::connect(addr));
        match attempt.await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Some((index, stream));
            }
            Ok(Err(e)) => {
                tracing::debug!(backend = backend.config.name, %addr, %e, "connect failed")
            }
            Err(_) => tracing::debug!(backend = backend.config.name, %addr, "connect timed out"),
        }
        exclude = Some(index);
    }
    None
}
