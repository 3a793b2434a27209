//! Running code inside a lab namespace from this process, and a TCP echo
//! server started that way (the target of the pair lab's held-connection
//! forward). Does I/O (setns, sockets, threads).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nix::sched::{setns, CloneFlags};

use super::{LabError, Ns};

/// Runs `f` on a fresh thread that entered `ns`'s network namespace: the
/// sockets `f` makes live in `ns` and can be used from any thread after.
pub fn within<T: Send + 'static>(
    ns: &Ns,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, LabError> {
    let path = format!("/run/netns/{}", ns.name());
    let command = format!("setns {path}");
    let fail = |reason: String| LabError::NotReady { command, reason };
    let handle = std::thread::spawn(move || -> Result<T, String> {
        let fd = std::fs::File::open(&path).map_err(|e| e.to_string())?;
        setns(fd, CloneFlags::CLONE_NEWNET).map_err(|e| e.to_string())?;
        Ok(f())
    });
    match handle.join() {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(e)) => Err(fail(e)),
        Err(_) => Err(fail("the thread panicked".into())),
    }
}

/// Opens a TCP connection from inside `ns`.
pub fn connect_from(ns: &Ns, to: SocketAddr, timeout: Duration) -> Result<TcpStream, LabError> {
    within(ns, move || TcpStream::connect_timeout(&to, timeout))?.map_err(|e| LabError::NotReady {
        command: format!("connect {to}"),
        reason: e.to_string(),
    })
}

/// A TCP echo server in a namespace; stops accepting when dropped.
#[derive(Debug)]
pub struct Echo {
    stop: Arc<AtomicBool>,
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Starts an echo server on `addr` inside `ns`, one thread per connection.
pub fn start_echo(ns: &Ns, addr: SocketAddr) -> Result<Echo, LabError> {
    let listener =
        within(ns, move || TcpListener::bind(addr))?.map_err(|e| LabError::NotReady {
            command: format!("echo server on {addr}"),
            reason: e.to_string(),
        })?;
    let _ = listener.set_nonblocking(true);
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    std::thread::spawn(move || {
        while !s.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((conn, _)) => {
                    std::thread::spawn(move || echo(conn));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    Ok(Echo { stop })
}

fn echo(mut conn: TcpStream) {
    let _ = conn.set_nonblocking(false);
    let mut buf = [0u8; 4096];
    loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if conn.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}
