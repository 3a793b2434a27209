//! The connection log: one line per finished connection, written off the
//! connection path. A connection hands its record to a bounded channel
//! (never waits: when full the record is dropped and counted); one writer
//! thread prints it to stderr or, under systemd, to the journal with
//! structured fields, keeps the last lines in a ring for the admin UI, and
//! passes RFC 5424 frames to the remote collector's task ([`remote`]).
//! Does I/O; the renderings ([`format`]) are pure.

pub mod format;
mod remote;

use std::collections::VecDeque;
use std::io::Write as _;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::accounting::Finished;
use crate::config;

/// Records waiting for the writer; past this they are dropped and counted.
const QUEUE: usize = 8192;
/// How long the writer sleeps after a batch (see [`Writer::run`]).
const GATHER: std::time::Duration = std::time::Duration::from_millis(2);
/// Records the writer takes from the queue at once at most.
const BATCH: usize = 256;
/// The journal's native socket.
const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

/// One finished connection and its listener's kind.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The record.
    pub finished: Finished,
    /// A TLS listener (`sni=`) or an HTTP one (`host=`).
    pub tls: bool,
}

/// Which entries [`ConnLog::recent`] returns; empty fields match all.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// A substring of the client's address.
    pub client: String,
    /// A substring of the SNI or Host.
    pub host: String,
    /// An end reason (`client_closed`, ...), exactly.
    pub end: String,
}

impl Filter {
    fn matches(&self, e: &Entry) -> bool {
        let f = &e.finished;
        f.client.to_string().contains(&self.client)
            && (self.host.is_empty() || f.host.as_deref().unwrap_or("").contains(&self.host))
            && (self.end.is_empty() || f.end.as_str() == self.end)
    }
}

struct Ring {
    lines: Mutex<VecDeque<Entry>>,
    size: AtomicUsize,
}

/// The log's handle; cheap to call from every connection.
pub struct ConnLog {
    tx: SyncSender<Entry>,
    ring: Arc<Ring>,
    dropped: Arc<AtomicU64>,
    remote: watch::Sender<Option<config::Remote>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ConnLog {
    /// Starts the writer thread and the remote task; inside a tokio runtime.
    pub fn start(cfg: &config::Config) -> Arc<ConnLog> {
        let (tx, rx) = sync_channel(QUEUE);
        let ring = Arc::new(Ring {
            lines: Mutex::new(VecDeque::new()),
            size: AtomicUsize::new(cfg.log.ring),
        });
        let dropped = Arc::new(AtomicU64::new(0));
        let (remote, remote_rx) = watch::channel(cfg.log.remote.clone());
        let frames = remote::spawn(remote_rx, dropped.clone());
        let writer = Writer {
            ring: ring.clone(),
            sink: Sink::detect(),
            frames,
            hostname: cfg.appliance.name.clone(),
        };
        let spawned = std::thread::Builder::new()
            .name("parvis-connlog".into())
            .spawn(move || writer.run(rx));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "connection log: cannot start its thread");
        }
        Arc::new(ConnLog {
            tx,
            ring,
            dropped,
            remote,
        })
    }

    /// Queues a record; never waits. A full queue drops it and counts it.
    pub fn record(&self, entry: Entry) {
        match self.tx.try_send(entry) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Takes a new `[log]` section: ring size and collector.
    pub fn reconfigure(&self, cfg: &config::Log) {
        self.ring.size.store(cfg.ring, Ordering::Relaxed);
        self.remote.send_if_modified(|r| {
            let changed = *r != cfg.remote;
            *r = cfg.remote.clone();
            changed
        });
    }

    /// Records dropped (queue full, collector too slow) since start.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The latest `limit` entries that match, newest first.
    pub fn recent(&self, filter: &Filter, limit: usize) -> Vec<Entry> {
        let lines = lock(&self.ring.lines);
        lines
            .iter()
            .rev()
            .filter(|e| filter.matches(e))
            .take(limit)
            .cloned()
            .collect()
    }
}

/// Where lines go: the journal under systemd, else stderr.
enum Sink {
    Stderr,
    Journal(UnixDatagram, PathBuf),
}

impl Sink {
    /// The journal when systemd connected stderr to it (`JOURNAL_STREAM`)
    /// and its socket answers; `PARVIS_JOURNAL_SOCKET` names another socket
    /// (tests). Writing both would print every line twice in the journal.
    fn detect() -> Sink {
        let path = match std::env::var_os("PARVIS_JOURNAL_SOCKET") {
            Some(p) => PathBuf::from(p),
            None if std::env::var_os("JOURNAL_STREAM").is_some() => PathBuf::from(JOURNAL_SOCKET),
            None => return Sink::Stderr,
        };
        match UnixDatagram::unbound() {
            Ok(sock) if path.exists() => Sink::Journal(sock, path),
            _ => Sink::Stderr,
        }
    }

    /// Writes a batch: the journal gets one datagram per entry; stderr
    /// gets every line in one `write` (one syscall per batch, not per
    /// connection, when connections end faster than the thread writes).
    fn write(&self, batch: &[Entry]) {
        let mut text = String::new();
        for entry in batch {
            if let Sink::Journal(sock, path) = self {
                let datagram = format::journal(&entry.finished, entry.tls);
                if sock.send_to(&datagram, path).is_ok() {
                    continue;
                }
            }
            format::write_logfmt(&mut text, &entry.finished, entry.tls);
            text.push('\n');
        }
        if !text.is_empty() {
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
        }
    }
}

struct Writer {
    ring: Arc<Ring>,
    sink: Sink,
    frames: remote::Frames,
    hostname: String,
}

impl Writer {
    fn run(self, rx: Receiver<Entry>) {
        let pid = std::process::id();
        let mut batch = Vec::with_capacity(BATCH);
        while let Ok(first) = rx.recv() {
            batch.push(first);
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(entry) => batch.push(entry),
                    Err(_) => break,
                }
            }
            self.sink.write(&batch);
            if self.frames.wanted() {
                for entry in &batch {
                    let frame = format::syslog(&entry.finished, entry.tls, &self.hostname, pid);
                    self.frames.send(frame);
                }
            }
            let size = self.ring.size.load(Ordering::Relaxed);
            let mut lines = lock(&self.ring.lines);
            lines.extend(batch.drain(..));
            while lines.len() > size {
                lines.pop_front();
            }
            drop(lines);
            // Let records gather while this thread sleeps: connections then
            // queue them without waking it (a futex call and a context
            // switch per connection otherwise), at the cost of lines
            // appearing up to this much later.
            std::thread::sleep(GATHER);
        }
    }
}
