//! keepalived's notify FIFO: one line per transition, e.g.
//! `INSTANCE "parvis" MASTER 200`. [`parse`] is pure; [`read`] opens the
//! FIFO (created here, mode 0600) and hands each role on. Does I/O.

use std::path::Path;

use super::{HaError, Role, INSTANCE};

/// The role in one FIFO line about our instance; `None` for other lines
/// (groups, checkers, unknown states).
pub fn parse(line: &str) -> Option<Role> {
    let mut words = line.split_whitespace();
    if words.next()? != "INSTANCE" || words.next()?.trim_matches('"') != INSTANCE {
        return None;
    }
    match words.next()? {
        "MASTER" => Some(Role::Master),
        "BACKUP" => Some(Role::Backup),
        "FAULT" => Some(Role::Fault),
        "STOP" => Some(Role::Unknown),
        _ => None,
    }
}

/// Creates the FIFO if it is missing (mode 0600).
pub fn create(path: &Path) -> Result<(), HaError> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::metadata(path) {
        Ok(m) if m.file_type().is_fifo() => return Ok(()),
        Ok(_) => std::fs::remove_file(path).map_err(|e| io(path, e))?,
        Err(_) => {}
    }
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600))
        .map_err(|e| io(path, std::io::Error::from(e)))
}

/// Reads the FIFO forever on the calling (dedicated) thread, calling
/// `on_role` for every line about our instance. The FIFO is opened
/// read-write and non-blocking (our own writer end means a restart of
/// keepalived is no EOF) and polled; if the path is removed or replaced (a
/// keepalived that exits may unlink it), it is made again and reopened, so
/// no transition is lost to a FIFO nobody reads. Returns only if it cannot
/// be made or opened.
pub fn read(path: &Path, mut on_role: impl FnMut(Role)) -> Result<(), HaError> {
    use std::io::Read;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    loop {
        create(path)?;
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| io(path, e))?;
        let ino = file.metadata().map_err(|e| io(path, e))?.ino();
        let mut pending = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match file.read(&mut buf) {
                Ok(n) if n > 0 => {
                    pending.extend_from_slice(&buf[..n]);
                    while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                        let line: Vec<u8> = pending.drain(..=end).collect();
                        let line = String::from_utf8_lossy(&line);
                        tracing::debug!(line = %line.trim_end(), "keepalived notify");
                        if let Some(role) = parse(&line) {
                            on_role(role);
                        }
                    }
                    continue;
                }
                _ => {}
            }
            if std::fs::metadata(path).map(|m| m.ino()).ok() != Some(ino) {
                tracing::warn!(fifo = %path.display(), "notify FIFO was removed or replaced; reopening");
                break;
            }
            std::thread::sleep(POLL);
        }
    }
}

/// How often an idle FIFO is polled.
const POLL: std::time::Duration = std::time::Duration::from_millis(50);

fn io(path: &Path, source: std::io::Error) -> HaError {
    HaError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_our_instance_only() {
        assert_eq!(parse("INSTANCE \"parvis\" MASTER 200"), Some(Role::Master));
        assert_eq!(parse("INSTANCE \"parvis\" BACKUP 100"), Some(Role::Backup));
        assert_eq!(parse("INSTANCE \"parvis\" FAULT 0"), Some(Role::Fault));
        assert_eq!(parse("INSTANCE \"parvis\" STOP 0"), Some(Role::Unknown));
        assert_eq!(parse("INSTANCE \"other\" MASTER 200"), None);
        assert_eq!(parse("GROUP \"g\" MASTER"), None);
        assert_eq!(parse(""), None);
        assert_eq!(parse("INSTANCE"), None);
    }

    #[test]
    fn a_replaced_fifo_is_reopened() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("f");
        create(&path).expect("mkfifo");
        let p = path.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            read(&p, |r| {
                let _ = tx.send(r);
            })
        });
        std::thread::sleep(std::time::Duration::from_millis(100));
        std::fs::remove_file(&path).expect("unlink");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !path.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        use std::io::Write;
        let mut w = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open");
        writeln!(w, "INSTANCE \"parvis\" BACKUP 100").expect("write");
        let got = rx.recv_timeout(std::time::Duration::from_secs(5));
        assert_eq!(got.ok(), Some(Role::Backup));
    }

    #[test]
    fn fifo_carries_lines() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("f");
        create(&path).expect("mkfifo");
        create(&path).expect("idempotent");
        let p = path.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            read(&p, |r| {
                let _ = tx.send(r);
            })
        });
        let mut w = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open");
        use std::io::Write;
        writeln!(w, "INSTANCE \"parvis\" MASTER 200").expect("write");
        let got = rx.recv_timeout(std::time::Duration::from_secs(5));
        assert_eq!(got.ok(), Some(Role::Master));
    }
}
