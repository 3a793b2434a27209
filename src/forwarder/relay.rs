//! The relay: copies both directions until both sides have closed, passing
//! each end of stream on as a half-close, with an idle timeout. Buffers are
//! taken only while data flows, so idle connections hold no buffer memory.
//! Does I/O.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::accounting::EndReason;
use super::splice::{self, Tally};

/// Buffer per direction while data flows.
const BUF: usize = 64 * 1024;

/// Byte counters the relay adds to as it goes.
pub struct Counters<'a> {
    /// Client → backend.
    pub up: &'a AtomicU64,
    /// Backend → client.
    pub down: &'a AtomicU64,
    /// Called once, when the backend's first bytes have been relayed (the
    /// time to first byte, without a wait of its own before the relay).
    pub first_down: &'a (dyn Fn() + Sync),
    /// Called every [`TICK`] while the relay runs (the per-server byte
    /// counters move while a connection is open); on the relay's own
    /// timer, so a connection has one timer, not two.
    pub tick: &'a mut (dyn FnMut() + Send),
}

/// How often [`Counters::tick`] is called.
pub const TICK: Duration = Duration::from_secs(1);

/// Which side failed or closed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Client,
    Backend,
}

/// How bytes are moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `read`/`write` through a user-space buffer.
    Copy,
    /// `splice(2)` through a pipe, zero-copy.
    Splice,
}

impl Mode {
    /// From `PARVIS_RELAY` (`copy` or `splice`), read once; the default is
    /// splice, measured faster (docs/forwarder.md).
    pub fn from_env() -> Mode {
        static MODE: std::sync::OnceLock<Mode> = std::sync::OnceLock::new();
        *MODE.get_or_init(|| match std::env::var("PARVIS_RELAY").as_deref() {
            Ok("splice") => Mode::Splice,
            Ok("copy") => Mode::Copy,
            _ => DEFAULT_MODE,
        })
    }
}

/// The mode used unless `PARVIS_RELAY` says otherwise.
const DEFAULT_MODE: Mode = Mode::Splice;

/// Relays until both sides close, one fails, or nothing moves for `idle`.
pub async fn relay(
    client: TcpStream,
    backend: TcpStream,
    idle: Duration,
    counters: Counters<'_>,
) -> EndReason {
    let start = Instant::now();
    let last = AtomicU64::new(0);
    let up_tally = Tally {
        count: counters.up,
        first: None,
    };
    let down_tally = Tally {
        count: counters.down,
        first: Some(counters.first_down),
    };
    match Mode::from_env() {
        Mode::Copy => {
            let (cr, cw) = client.into_split();
            let (br, bw) = backend.into_split();
            let up = pump(
                cr,
                bw,
                &up_tally,
                &last,
                start,
                (Fault::Client, Fault::Backend),
            );
            let down = pump(
                br,
                cw,
                &down_tally,
                &last,
                start,
                (Fault::Backend, Fault::Client),
            );
            drive(up, down, (idle, counters.tick), &last, start).await
        }
        Mode::Splice => {
            let side = |f, reader, writer| match f {
                splice::Failed::Reader => reader,
                splice::Failed::Writer => writer,
            };
            let up = async {
                splice::pump(&client, &backend, &up_tally, &last, start)
                    .await
                    .map_err(|f| side(f, Fault::Client, Fault::Backend))
            };
            let down = async {
                splice::pump(&backend, &client, &down_tally, &last, start)
                    .await
                    .map_err(|f| side(f, Fault::Backend, Fault::Client))
            };
            drive(up, down, (idle, counters.tick), &last, start).await
        }
    }
}

/// Runs both directions to their end; the first to end names the reason.
/// One timer serves the idle timeout and the tick: it is armed once and
/// moved when it fires, not made anew at each turn of the loop.
async fn drive(
    up: impl std::future::Future<Output = Result<(), Fault>>,
    down: impl std::future::Future<Output = Result<(), Fault>>,
    (idle, tick): (Duration, &mut (dyn FnMut() + Send)),
    last: &AtomicU64,
    start: Instant,
) -> EndReason {
    tokio::pin!(up, down);
    let (mut up_done, mut down_done) = (false, false);
    let mut first = None;
    let mut next_tick = after(start, TICK);
    let timer = tokio::time::sleep_until(after(start, idle).min(next_tick));
    tokio::pin!(timer);
    loop {
        tokio::select! {
            r = &mut up, if !up_done => {
                up_done = true;
                if let Err(side) = r { return fault_reason(side); }
                first.get_or_insert(EndReason::ClientClosed);
            }
            r = &mut down, if !down_done => {
                down_done = true;
                if let Err(side) = r { return fault_reason(side); }
                first.get_or_insert(EndReason::BackendClosed);
            }
            _ = &mut timer => {
                let now = Instant::now();
                if now >= next_tick {
                    tick();
                    next_tick = after(now, TICK);
                }
                let quiet = after(start, Duration::from_millis(last.load(Ordering::Relaxed)));
                let idle_at = after(quiet, idle);
                if now >= idle_at {
                    return EndReason::Timeout;
                }
                timer.as_mut().reset(idle_at.min(next_tick));
            }
        }
        if up_done && down_done {
            return first.unwrap_or(EndReason::ClientClosed);
        }
    }
}

/// `t + d`, saturating at a point a century away instead of panicking.
fn after(t: Instant, d: Duration) -> Instant {
    t.checked_add(d)
        .or_else(|| t.checked_add(Duration::from_secs(100 * 365 * 86_400)))
        .unwrap_or(t)
}

fn fault_reason(side: Fault) -> EndReason {
    match side {
        Fault::Client => EndReason::ClientClosed,
        Fault::Backend => EndReason::BackendClosed,
    }
}

/// Copies one direction; at end of stream shuts the writer (half-close).
async fn pump(
    from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    count: &Tally<'_>,
    last: &AtomicU64,
    start: Instant,
    sides: (Fault, Fault),
) -> Result<(), Fault> {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        from.readable().await.map_err(|_| sides.0)?;
        if buf.capacity() == 0 {
            buf.reserve_exact(BUF);
        }
        match from.try_read_buf(&mut buf) {
            Ok(0) => {
                let _ = to.shutdown().await;
                return Ok(());
            }
            Ok(n) => {
                to.write_all(&buf).await.map_err(|_| sides.1)?;
                count.add(n);
                let ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
                last.store(ms, Ordering::Relaxed);
                if n < BUF {
                    // Drained: give the buffer back while the peer is quiet.
                    buf = Vec::new();
                } else {
                    buf.clear();
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(_) => return Err(sides.0),
        }
    }
}
