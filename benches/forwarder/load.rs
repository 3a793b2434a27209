//! The load generator: runs inside the client namespace (the bench binary
//! re-executes itself there with `--client MODE ...`) and prints one JSON
//! object on stdout.
//!
//! Does I/O: TCP connections to the forwarder under test, stdout, stdin.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::hello;

/// What every exchange in the short-answer modes must read back.
pub const ANSWER: &[u8] = b"hello\n";
/// What the idle backend writes once the connection reached it.
pub const HELD: &[u8] = b"held\n";
/// No single exchange may take longer than this.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);
/// Bulk transfers run this long before bytes start to count.
const BULK_WARMUP: Duration = Duration::from_secs(1);
/// Concurrent connection attempts while opening the idle connections.
const IDLE_OPENERS: usize = 128;

/// Where to connect and what to send first.
#[derive(Debug)]
pub struct Target {
    /// The forwarder's (or the direct path's) address as the client sees it.
    pub addr: SocketAddr,
    /// A real TLS ClientHello carrying the SNI of the route under test.
    pub hello: Vec<u8>,
}

/// A failure of the client run as a whole (not of one connection).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The command line did not say what to do.
    #[error("usage: --client rate|latency|bulk|idle ADDR SNI SECS PARAM ({0})")]
    Usage(String),
    /// The ClientHello could not be produced.
    #[error("cannot build the ClientHello: {0}")]
    Hello(String),
    /// stdout or stdin failed.
    #[error("client i/o: {0}")]
    Io(#[from] io::Error),
}

/// Parses `MODE ADDR SNI SECS PARAM` and runs that mode; returns its JSON.
pub async fn run(args: &[String]) -> Result<Value, LoadError> {
    let [mode, addr, sni, secs, param] = args else {
        return Err(LoadError::Usage(format!("got {} arguments", args.len())));
    };
    let addr: SocketAddr = addr
        .parse()
        .map_err(|_| LoadError::Usage(format!("bad address {addr:?}")))?;
    let secs: f64 = secs
        .parse()
        .map_err(|_| LoadError::Usage(format!("bad seconds {secs:?}")))?;
    let param: u64 = param
        .parse()
        .map_err(|_| LoadError::Usage(format!("bad parameter {param:?}")))?;
    let hello = hello::client_hello(sni).map_err(LoadError::Hello)?;
    let target = Arc::new(Target { addr, hello });
    let dur = Duration::from_secs_f64(secs);
    match mode.as_str() {
        "rate" => Ok(rate(target, dur, param).await),
        "latency" => Ok(latency(target, dur, param).await),
        "bulk" => Ok(bulk(target, dur, param).await),
        "idle" => idle(target, param).await,
        other => Err(LoadError::Usage(format!("unknown mode {other:?}"))),
    }
}

/// Connects, sends the ClientHello, reads [`ANSWER`]; then reads on to EOF
/// when `to_eof`. Returns the time from connect to the complete answer.
async fn exchange(t: &Target, to_eof: bool) -> io::Result<Duration> {
    let start = Instant::now();
    let mut s = TcpStream::connect(t.addr).await?;
    s.set_nodelay(true)?;
    s.write_all(&t.hello).await?;
    let mut buf = [0u8; 64];
    let mut got = 0;
    while got < ANSWER.len() {
        let n = s.read(&mut buf[got..]).await?;
        if n == 0 {
            break;
        }
        got += n;
    }
    let took = start.elapsed();
    if buf.get(..got) != Some(ANSWER) {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "wrong answer"));
    }
    if to_eof {
        // The backend closes after its answer; a reset instead of a FIN
        // (it closed with our ClientHello unread) still ends the exchange.
        let _ = s.read(&mut buf).await;
    }
    Ok(took)
}

async fn timed_exchange(t: &Target, to_eof: bool) -> io::Result<Duration> {
    match tokio::time::timeout(EXCHANGE_TIMEOUT, exchange(t, to_eof)).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "exchange timed out",
        )),
    }
}

/// `workers` loops of connect → ClientHello → answer → EOF, for `dur`;
/// also the percentiles of connect → complete answer at that load (the
/// latency issue 14 asks for: with `workers` exchanges in flight).
async fn rate(t: Arc<Target>, dur: Duration, workers: u64) -> Value {
    let errors = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + dur;
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (t, errors) = (t.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut took = Vec::new();
            while Instant::now() < deadline {
                match timed_exchange(&t, true).await {
                    Ok(d) => took.push(d.as_secs_f64() * 1000.0),
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            took
        }));
    }
    let mut samples = Vec::new();
    for task in tasks {
        if let Ok(took) = task.await {
            samples.extend(took);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    samples.sort_by(f64::total_cmp);
    let ok = samples.len();
    json!({
        "ok": ok,
        "errors": errors.load(Ordering::Relaxed),
        "secs": secs,
        "per_sec": ok as f64 / secs,
        "p50_ms": percentile(&samples, 500),
        "p99_ms": percentile(&samples, 990),
    })
}

/// Opens a connection every `1/per_sec` seconds for `dur` (open loop) and
/// reports the percentiles of connect → complete answer.
async fn latency(t: Arc<Target>, dur: Duration, per_sec: u64) -> Value {
    let period = Duration::from_secs_f64(1.0 / per_sec.max(1) as f64);
    let millis = u64::try_from(dur.as_millis()).unwrap_or(u64::MAX);
    let count = millis.saturating_mul(per_sec) / 1000;
    let mut ticker = tokio::time::interval(period);
    let mut tasks = Vec::new();
    for _ in 0..count {
        ticker.tick().await;
        let t = t.clone();
        tasks.push(tokio::spawn(async move { timed_exchange(&t, true).await }));
    }
    let mut samples = Vec::new();
    let mut errors = 0u64;
    for task in tasks {
        match task.await {
            Ok(Ok(d)) => samples.push(d.as_secs_f64() * 1000.0),
            _ => errors += 1,
        }
    }
    samples.sort_by(f64::total_cmp);
    json!({
        "ok": samples.len(),
        "errors": errors,
        "rate": per_sec,
        "p50_ms": percentile(&samples, 500),
        "p99_ms": percentile(&samples, 990),
        "max_ms": samples.last().copied(),
    })
}

/// The `permille`/1000 quantile (nearest rank) of sorted samples, `None`
/// when empty.
pub fn percentile(sorted: &[f64], permille: usize) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (permille * sorted.len()).div_ceil(1000);
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// `conns` connections, each sends its ClientHello and then reads what the
/// bulk backend streams as fast as it can; bytes count after a warm-up.
async fn bulk(t: Arc<Target>, dur: Duration, conns: u64) -> Value {
    let bytes = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (t, bytes, failed, stop) = (t.clone(), bytes.clone(), failed.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            if drain(&t, &bytes, &stop).await.is_err() {
                failed.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(BULK_WARMUP).await;
    let (b0, t0) = (bytes.load(Ordering::Relaxed), Instant::now());
    tokio::time::sleep(dur).await;
    let (b1, secs) = (bytes.load(Ordering::Relaxed), t0.elapsed().as_secs_f64());
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    json!({
        "conns": conns,
        "total_bytes": bytes.load(Ordering::Relaxed),
        "failed": failed.load(Ordering::Relaxed),
        "bytes": b1 - b0,
        "secs": secs,
        "mb_per_sec": (b1 - b0) as f64 / secs / 1e6,
    })
}

async fn drain(t: &Target, bytes: &AtomicU64, stop: &AtomicBool) -> io::Result<()> {
    let mut s = TcpStream::connect(t.addr).await?;
    s.write_all(&t.hello).await?;
    let mut buf = vec![0u8; 256 * 1024];
    while !stop.load(Ordering::Relaxed) {
        let read = tokio::time::timeout(EXCHANGE_TIMEOUT, s.read(&mut buf)).await;
        match read {
            Ok(Ok(0)) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(Ok(n)) => bytes.fetch_add(n as u64, Ordering::Relaxed),
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(io::ErrorKind::TimedOut.into()),
        };
    }
    Ok(())
}

/// Opens `count` connections that each send their ClientHello and wait for
/// the idle backend's [`HELD`] line, prints how many made it, then keeps
/// them open until stdin closes.
async fn idle(t: Arc<Target>, count: u64) -> Result<Value, LoadError> {
    let start = Instant::now();
    let gate = Arc::new(Semaphore::new(IDLE_OPENERS));
    let mut tasks = Vec::new();
    for _ in 0..count {
        let (t, gate) = (t.clone(), gate.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.ok()?;
            tokio::time::timeout(EXCHANGE_TIMEOUT, hold(&t))
                .await
                .ok()?
                .ok()
        }));
    }
    let mut held = Vec::new();
    for task in tasks {
        if let Ok(Some(s)) = task.await {
            held.push(s);
        }
    }
    let report = json!({
        "established": held.len(),
        "errors": count - held.len() as u64,
        "secs": start.elapsed().as_secs_f64(),
    });
    let mut out = tokio::io::stdout();
    out.write_all(format!("{report}\n").as_bytes()).await?;
    out.flush().await?;
    // The orchestrator reads the forwarder's memory now, then closes stdin.
    let mut sink = Vec::new();
    tokio::io::stdin().read_to_end(&mut sink).await?;
    drop(held);
    // The report went out above; nobody reads stdout any more.
    Ok(Value::Null)
}

async fn hold(t: &Target) -> io::Result<TcpStream> {
    let mut s = TcpStream::connect(t.addr).await?;
    s.write_all(&t.hello).await?;
    let mut buf = [0u8; 16];
    let mut got = 0;
    while got < HELD.len() {
        let n = s.read(&mut buf[got..]).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        got += n;
    }
    if buf.get(..got) == Some(HELD) {
        Ok(s)
    } else {
        Err(io::Error::new(io::ErrorKind::InvalidData, "wrong line"))
    }
}
