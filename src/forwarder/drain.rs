//! Drained servers: the operator's "no new connection to this server"
//! marks. Not part of the config: kept by the forwarder across applies and
//! in `state_dir/drained.json` across restarts. Does I/O (that one file).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The file under `state_dir`.
pub const FILE: &str = "drained.json";

/// A drain or undrain that cannot be done.
#[derive(Debug, thiserror::Error)]
pub enum DrainError {
    /// No backend of that name.
    #[error("no backend is named {0:?}")]
    UnknownBackend(String),
    /// The backend has no such server.
    #[error("backend {backend:?} has no server {server} (its servers: {known})")]
    UnknownServer {
        /// The backend.
        backend: String,
        /// What was asked.
        server: String,
        /// Its servers, comma-separated.
        known: String,
    },
    /// The state file could not be written.
    #[error("cannot write {path}: {source}")]
    Save {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Drained (backend, server) pairs.
pub type Drained = BTreeSet<(String, SocketAddr)>;

/// Reads the marks; a missing or unreadable file is no marks (logged).
pub fn load(state_dir: &Path) -> Drained {
    let path = state_dir.join(FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Drained::new(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "drained servers not read");
            return Drained::new();
        }
    };
    serde_json::from_str::<Vec<(String, SocketAddr)>>(&text)
        .map(|v| v.into_iter().collect())
        .unwrap_or_else(|e| {
            tracing::warn!(path = %path.display(), error = %e, "drained servers not read");
            Drained::new()
        })
}

/// Writes the marks atomically (temporary file, then rename).
pub fn save(state_dir: &Path, drained: &Drained) -> Result<(), DrainError> {
    let path = state_dir.join(FILE);
    let tmp = state_dir.join(format!("{FILE}.tmp"));
    let list: Vec<&(String, SocketAddr)> = drained.iter().collect();
    let text = serde_json::to_string_pretty(&list).unwrap_or_else(|_| "[]".into());
    let fail = |source| DrainError::Save {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(state_dir).map_err(fail)?;
    std::fs::write(&tmp, text).map_err(fail)?;
    std::fs::rename(&tmp, &path).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_round_trip_and_a_bad_file_is_none() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(load(dir.path()).is_empty());
        let mut d = Drained::new();
        d.insert(("ingress".into(), "10.0.0.11:443".parse().expect("addr")));
        save(dir.path(), &d).expect("saved");
        assert_eq!(load(dir.path()), d);
        std::fs::write(dir.path().join(FILE), "{not json").expect("written");
        assert!(load(dir.path()).is_empty());
    }
}
