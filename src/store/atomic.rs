//! Crash-safe file writes: temp file, fsync, rename, fsync the directory.
//! Does I/O (the filesystem).
//!
//! A reader never sees a half-written file under the final name: either the
//! old content or the new one. Temp files carry a `.tmp.` infix and a leading
//! dot, so a listing that matches final names only never mistakes one for data.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Tells temp files of one process apart.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The infix that marks a temp file.
pub(crate) const TMP_MARK: &str = ".tmp.";

/// Writes `bytes` to `path` atomically and durably.
pub(crate) fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = parent(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}{TMP_MARK}{}.{n}", std::process::id()));
    let result = write_tmp(&tmp, bytes).and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    sync_dir(&dir)
}

/// Removes `path` (if present) and makes the removal durable.
pub(crate) fn remove(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => sync_dir(&parent(path)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// True if `name` is one of our temp files.
pub(crate) fn is_tmp(name: &str) -> bool {
    name.starts_with('.') && name.contains(TMP_MARK)
}

fn write_tmp(tmp: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).open(tmp)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// fsync on the directory makes a rename or unlink in it durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("current");
        write(&path, b"1\n").expect("write");
        write(&path, b"2\n").expect("write");
        assert_eq!(fs::read_to_string(&path).expect("read"), "2\n");
        let names: Vec<String> = fs::read_dir(dir.path())
            .expect("read_dir")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["current".to_string()]);
        assert!(is_tmp(".current.tmp.12.0"));
        assert!(!is_tmp("000001.toml"));
    }
}
