//! keepalived's notify FIFO: one line per transition, e.g.
//! `INSTANCE "parvis" MASTER 200`. [`parse`] is pure; [`read`] opens the
//! FIFO (created here, mode 0600) and hands each role on. Does I/O.

use std::io::BufRead;
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
/// `on_role` for every line about our instance. Reopens after EOF (keepalived
/// restarted). Returns only if the FIFO cannot be opened.
pub fn read(path: &Path, mut on_role: impl FnMut(Role)) -> Result<(), HaError> {
    loop {
        // Opening read-write keeps a writer on the FIFO ourselves, so a
        // restart of keepalived is no EOF and open never blocks.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| io(path, e))?;
        for line in std::io::BufReader::new(file).lines() {
            let Ok(line) = line else { break };
            tracing::debug!(line = %line, "keepalived notify");
            if let Some(role) = parse(&line) {
                on_role(role);
            }
        }
    }
}

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
