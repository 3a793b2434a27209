//! Zero-copy relay with `splice(2)`: socket → pipe → socket, so the bytes
//! never enter user space. Does I/O.
//!
//! `unsafe` is allowed in this file only, because `pipe2`, `splice` and
//! `shutdown` have no safe wrapper among the crate's dependencies. Each call
//! is reviewed where it is made: every file descriptor passed is owned by a
//! live `TcpStream` or `OwnedFd` borrowed for the call's duration, and no
//! pointer other than the two-int array of `pipe2` is passed.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::Interest;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Bytes moved per `splice` call (the default pipe capacity).
const CHUNK: usize = 64 * 1024;
/// The most bytes a direction copies through user space before it takes a
/// pipe (see [`pump`]).
pub const SMALL: usize = 16 * 1024;
/// How long a quiet direction keeps its pipe.
const KEEP_PIPE: std::time::Duration = std::time::Duration::from_secs(1);

/// A non-blocking pipe.
struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
}

/// Pipes alive now, across all connections.
static PIPES: AtomicU64 = AtomicU64::new(0);

/// Above this many pipes, a pipe is closed as soon as its chunk is written
/// instead of being kept for [`KEEP_PIPE`]: each pipe costs two descriptors,
/// and a burst of new connections must not run the process out of them
/// (seen at 20,000 descriptors with 128 connections opening at once).
const MAX_KEPT_PIPES: u64 = 1024;

impl Drop for Pipe {
    fn drop(&mut self) {
        PIPES.fetch_sub(1, Ordering::Relaxed);
    }
}

fn pipe() -> io::Result<Pipe> {
    let mut fds: [libc::c_int; 2] = [-1, -1];
    // SAFETY: `fds` is a valid, writable array of two ints, as pipe2 requires.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: on success both descriptors are new and owned by nobody else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    PIPES.fetch_add(1, Ordering::Relaxed);
    Ok(Pipe { read, write })
}

fn splice(from: RawFd, to: RawFd, len: usize) -> io::Result<usize> {
    // SAFETY: both descriptors are open for the duration of the call (the
    // callers borrow their owners); null offsets mean "current position",
    // which splice requires for sockets and pipes.
    let n = unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
        )
    };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

fn shutdown_write(stream: &TcpStream) {
    // SAFETY: the descriptor belongs to `stream`, borrowed for the call.
    // A failure (already closed) is of no consequence.
    let _ = unsafe { libc::shutdown(stream.as_raw_fd(), libc::SHUT_WR) };
}

/// One direction's byte counter and what to call at its first bytes.
pub struct Tally<'a> {
    pub(super) count: &'a AtomicU64,
    pub(super) first: Option<&'a (dyn Fn() + Sync)>,
}

impl Tally<'_> {
    /// Adds `n` moved bytes.
    pub fn add(&self, n: usize) {
        let before = self.count.fetch_add(n as u64, Ordering::Relaxed);
        if let (0, Some(first)) = (before, self.first) {
            first();
        }
    }
}

/// Which end failed, as the copy relay reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failed {
    /// Reading from `from`.
    Reader,
    /// Writing to `to`.
    Writer,
}

/// Moves `from` → `to` until end of stream (then half-closes `to`).
///
/// Data that fits in [`SMALL`] (a TLS handshake answer, a short reply) is
/// copied through a short-lived heap buffer with one `read` and one
/// `write`; only a read that fills it brings in a pipe, and the bytes after
/// it are spliced. A short-lived connection thus never opens a pipe (two
/// descriptors, four syscalls and a timer saved per direction).
pub async fn pump(
    from: &TcpStream,
    to: &TcpStream,
    count: &Tally<'_>,
    last: &AtomicU64,
    start: Instant,
) -> Result<(), Failed> {
    // The pipe is made when data keeps coming and given back after a quiet
    // second (it is always empty between reads), so idle connections hold
    // no pipe and no extra file descriptors.
    let mut pipe: Option<Pipe> = None;
    loop {
        let moved = match pipe.as_ref() {
            None => {
                from.readable().await.map_err(|_| Failed::Reader)?;
                match copy_small(from, to).await? {
                    None => continue,
                    Some(n) if n == SMALL => {
                        pipe = Some(self::pipe().map_err(|_| Failed::Reader)?);
                        n
                    }
                    Some(n) => n,
                }
            }
            Some(p) => {
                match tokio::time::timeout(KEEP_PIPE, from.readable()).await {
                    Ok(ready) => ready.map_err(|_| Failed::Reader)?,
                    Err(_) => {
                        pipe = None;
                        continue;
                    }
                }
                match through_pipe(from, to, p).await? {
                    None => continue,
                    Some(n) => n,
                }
            }
        };
        if moved == 0 {
            shutdown_write(to);
            return Ok(());
        }
        if PIPES.load(Ordering::Relaxed) > MAX_KEPT_PIPES {
            pipe = None;
        }
        count.add(moved);
        let ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        last.store(ms, Ordering::Relaxed);
    }
}

/// Reads what `from` has (up to [`SMALL`]) and writes it all to `to`.
/// `None`: nothing to read after all; `Some(0)`: end of stream.
///
/// The read goes into this thread's scratch buffer and is written out at
/// once, without an await in between; only what the writer does not take
/// at once is copied to the heap to wait for it. A short answer thus costs
/// no allocation (the profile had a fresh 16 KiB buffer per read, and
/// glibc's `malloc_consolidate` behind it, at about 3 % of the CPU of a
/// connection-rate run).
async fn copy_small(from: &TcpStream, to: &TcpStream) -> Result<Option<usize>, Failed> {
    let (n, rest) = SCRATCH.with(|cell| {
        let mut scratch = cell.borrow_mut();
        let n = match from.try_read(&mut scratch[..]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok((None, Vec::new())),
            Err(_) => return Err(Failed::Reader),
        };
        let done = write_now(to, &scratch[..n])?;
        Ok((Some(n), scratch[done..n].to_vec()))
    })?;
    let mut done = 0;
    while done < rest.len() {
        to.writable().await.map_err(|_| Failed::Writer)?;
        done += write_now(to, &rest[done..])?;
    }
    Ok(n)
}

/// Writes as much of `bytes` to `to` as it takes without waiting; how
/// much that was.
fn write_now(to: &TcpStream, bytes: &[u8]) -> Result<usize, Failed> {
    let mut done = 0;
    while done < bytes.len() {
        match to.try_write(&bytes[done..]) {
            Ok(0) => return Err(Failed::Writer),
            Ok(w) => done += w,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(_) => return Err(Failed::Writer),
        }
    }
    Ok(done)
}

thread_local! {
    /// [`copy_small`]'s read buffer: one per worker thread, never held
    /// across an await.
    static SCRATCH: std::cell::RefCell<Box<[u8; SMALL]>> =
        std::cell::RefCell::new(Box::new([0; SMALL]));
}

/// Splices what `from` has into the pipe and all of it on to `to`.
/// `None`: nothing to read after all; `Some(0)`: end of stream.
async fn through_pipe(
    from: &TcpStream,
    to: &TcpStream,
    pipe: &Pipe,
) -> Result<Option<usize>, Failed> {
    let fd = from.as_raw_fd();
    let filled = match from.try_io(Interest::READABLE, || {
        splice(fd, pipe.write.as_raw_fd(), CHUNK)
    }) {
        Ok(n) => n,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
        Err(_) => return Err(Failed::Reader),
    };
    let mut left = filled;
    while left > 0 {
        to.writable().await.map_err(|_| Failed::Writer)?;
        let fd = to.as_raw_fd();
        match to.try_io(Interest::WRITABLE, || {
            splice(pipe.read.as_raw_fd(), fd, left)
        }) {
            Ok(0) => return Err(Failed::Writer),
            Ok(n) => left -= n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(_) => return Err(Failed::Writer),
        }
    }
    Ok(Some(filled))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_bytes_are_noted_once() {
        let count = AtomicU64::new(0);
        let calls = AtomicU64::new(0);
        let note = || {
            calls.fetch_add(1, Ordering::Relaxed);
        };
        let tally = Tally {
            count: &count,
            first: Some(&note),
        };
        tally.add(6);
        tally.add(10);
        assert_eq!(count.load(Ordering::Relaxed), 16);
        assert_eq!(calls.load(Ordering::Relaxed), 1);
    }
}
