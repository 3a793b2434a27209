//! The bulk and idle backends: run inside an ingress namespace (the bench
//! binary re-executes itself there with `--backend ADDR`).
//!
//! Four listeners on ADDR: bulk with a required PROXY header (`:8443`) and
//! without (`:8444`, the direct path), idle likewise (`:9443`, `:9444`).
//! After the header (if any), a bulk connection receives zeros as fast as
//! the socket takes them; an idle one receives [`HELD`] and then nothing.
//! The client's ClientHello is read and thrown away in both.
//!
//! Does I/O: TCP listeners, stdout (one ready line).

use std::io;
use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::load::HELD;

/// Printed once every listener is bound.
pub const READY: &str = "backend ready";
/// Bulk backend port expecting a PROXY header.
pub const BULK_PROXY: u16 = 8443;
/// Bulk backend port for the direct path (no header).
pub const BULK_PLAIN: u16 = 8444;
/// Idle backend port expecting a PROXY header.
pub const IDLE_PROXY: u16 = 9443;
/// Idle backend port for the direct path (no header).
pub const IDLE_PLAIN: u16 = 9444;

/// Zeros, written again and again by the bulk backend.
static ZEROS: [u8; 256 * 1024] = [0; 256 * 1024];

#[derive(Debug, Clone, Copy)]
enum Kind {
    Bulk,
    Idle,
}

/// Binds the four listeners on `ip`, prints [`READY`], serves forever.
pub async fn serve(ip: IpAddr) -> io::Result<()> {
    let specs = [
        (BULK_PROXY, true, Kind::Bulk),
        (BULK_PLAIN, false, Kind::Bulk),
        (IDLE_PROXY, true, Kind::Idle),
        (IDLE_PLAIN, false, Kind::Idle),
    ];
    let mut listeners = Vec::new();
    for (port, proxy, kind) in specs {
        let l = TcpListener::bind(SocketAddr::new(ip, port)).await?;
        listeners.push((l, proxy, kind));
    }
    println!("{READY}");
    let mut tasks = Vec::new();
    for (l, proxy, kind) in listeners {
        tasks.push(tokio::spawn(accept_loop(l, proxy, kind)));
    }
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}

async fn accept_loop(l: TcpListener, proxy: bool, kind: Kind) {
    loop {
        match l.accept().await {
            Ok((s, _)) => {
                tokio::spawn(async move {
                    if let Err(e) = connection(s, proxy, kind).await {
                        if e.kind() == io::ErrorKind::InvalidData {
                            eprintln!("bench backend: {e}");
                        }
                    }
                });
            }
            // Out of file descriptors or similar: back off briefly.
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
        }
    }
}

async fn connection(mut s: TcpStream, proxy: bool, kind: Kind) -> io::Result<()> {
    if proxy {
        read_header(&mut s).await?;
    }
    let (mut rd, mut wr) = s.into_split();
    let discard = tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        while matches!(rd.read(&mut buf).await, Ok(n) if n > 0) {}
    });
    match kind {
        Kind::Bulk => loop {
            if wr.write_all(&ZEROS).await.is_err() {
                break;
            }
        },
        Kind::Idle => {
            wr.write_all(HELD).await?;
            // Idle until the peer closes; then the discard task ends.
            let _ = discard.await;
            return Ok(());
        }
    }
    discard.abort();
    Ok(())
}

/// Reads exactly one PROXY header (v1 or v2) and nothing after it, peeking
/// first so that the bytes after the header stay in the socket.
async fn read_header(s: &mut TcpStream) -> io::Result<()> {
    let mut buf = [0u8; 536];
    loop {
        let n = s.peek(&mut buf).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        match header_len(&buf[..n]) {
            Some(Ok(len)) => {
                let mut header = vec![0u8; len];
                return s.read_exact(&mut header).await.map(|_| ());
            }
            Some(Err(why)) => return Err(io::Error::new(io::ErrorKind::InvalidData, why)),
            None if n == buf.len() => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "header too long",
                ))
            }
            // Incomplete: wait for more bytes (peek returns at once otherwise).
            None => tokio::time::sleep(std::time::Duration::from_millis(1)).await,
        }
    }
}

/// The v2 signature.
const V2_SIG: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// Length of the PROXY header at the start of `b`: `None` while incomplete,
/// an error when it is not one.
pub fn header_len(b: &[u8]) -> Option<Result<usize, &'static str>> {
    let prefix = |sig: &[u8]| b.len() < sig.len() && sig.starts_with(b);
    if b.starts_with(V2_SIG) {
        let len = match b.get(14..16) {
            Some(&[hi, lo]) => 16 + usize::from(u16::from_be_bytes([hi, lo])),
            _ => return None,
        };
        if b.get(12).is_some_and(|v| v >> 4 != 2) {
            return Some(Err("PROXY v2 header with a bad version"));
        }
        return (b.len() >= len).then_some(Ok(len));
    }
    if b.starts_with(b"PROXY ") {
        return match b.windows(2).position(|w| w == b"\r\n") {
            Some(i) if i + 2 <= 107 => Some(Ok(i + 2)),
            Some(_) => Some(Err("PROXY v1 line over 107 bytes")),
            None if b.len() >= 107 => Some(Err("PROXY v1 line over 107 bytes")),
            None => None,
        };
    }
    if prefix(V2_SIG) || prefix(b"PROXY ") {
        return None;
    }
    Some(Err("no PROXY header"))
}
