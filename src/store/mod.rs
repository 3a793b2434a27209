//! The config store: every applied config as a numbered version in
//! `state_dir/config/` — the TOML text exactly as given (`NNNNNN.toml`) and
//! its metadata (`NNNNNN.meta.json`) — plus the `current` pointer (last
//! confirmed version) and the `pending` record (change waiting for confirm).
//! Does I/O (the filesystem); every write is atomic and durable (see
//! the `atomic` module), so a crash mid-write leaves the previous state intact.
//!
//! A version exists once its meta file does: the text is written first, the
//! meta second. Corrupt or half-made files are skipped with a warning.

mod atomic;
mod meta;

use std::fs;
use std::path::{Path, PathBuf};

pub use meta::{clock, rfc3339, Author, Origin, Pending, VersionMeta, VersionState};

/// How many versions are kept; older ones are pruned (never `current` or pending).
pub const KEEP: usize = 200;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file or folder could not be read or written.
    #[error("config store: {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// No such version (never stored, pruned, or its files are damaged).
    #[error("config store: there is no version {0}")]
    NotFound(u64),
    /// A version with this number is already stored.
    #[error("config store: version {0} already exists")]
    Exists(u64),
}

/// The store in `state_dir/config/`.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// Opens (creating if needed) `state_dir/config/` and removes temp files
    /// left by a crash.
    pub fn open(state_dir: &Path) -> Result<Store, StoreError> {
        let dir = state_dir.join("config");
        fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        let store = Store { dir };
        for name in store.names()? {
            if atomic::is_tmp(&name) {
                tracing::warn!(file = %name, "config store: removing a temp file left by a crash");
                let _ = fs::remove_file(store.dir.join(&name));
            }
        }
        Ok(store)
    }

    /// The folder holding the versions.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stores a new version (text first, then meta) and returns its number.
    pub fn append(
        &self,
        text: &str,
        origin: &Origin,
        state: VersionState,
    ) -> Result<u64, StoreError> {
        self.append_from(1, text, origin, state)
    }

    /// Stores a new version numbered at least `min` (and above every
    /// number used) and returns its number: the pair's numbering.
    pub fn append_from(
        &self,
        min: u64,
        text: &str,
        origin: &Origin,
        state: VersionState,
    ) -> Result<u64, StoreError> {
        let version = (self.last_number()? + 1).max(min);
        let meta = VersionMeta {
            version,
            time: rfc3339(std::time::SystemTime::now()),
            author: origin.author.clone(),
            source: origin.source,
            comment: origin.comment.clone(),
            state,
            reason: None,
            node: None,
        };
        self.write(&self.text_path(version), text.as_bytes())?;
        self.write_meta(&meta)?;
        self.prune();
        Ok(version)
    }

    /// Stores a version with exactly the number in `meta` (a copy from
    /// the peer); refused if that number is taken.
    pub fn append_at(&self, meta: &VersionMeta, text: &str) -> Result<(), StoreError> {
        let n = meta.version;
        if n == 0 || self.meta_path(n).exists() || self.text_path(n).exists() {
            return Err(StoreError::Exists(n));
        }
        self.write(&self.text_path(n), text.as_bytes())?;
        self.write_meta(meta)?;
        self.prune();
        Ok(())
    }

    /// Replaces version `meta.version` with a copy from the peer (text,
    /// then meta): only for a node rebuilt from its config file, whose
    /// own first-boot version gives way to the pair's history. A crash
    /// between the two writes leaves the peer's text under the old meta;
    /// the next catch-up writes the meta again.
    pub fn replace_at(&self, meta: &VersionMeta, text: &str) -> Result<(), StoreError> {
        let n = meta.version;
        if n == 0 {
            return Err(StoreError::NotFound(0));
        }
        self.write(&self.text_path(n), text.as_bytes())?;
        self.write_meta(meta)
    }

    /// The highest version number used (0: none).
    pub fn last(&self) -> u64 {
        self.last_number().unwrap_or(0)
    }

    /// All readable versions, oldest first.
    pub fn list(&self) -> Vec<VersionMeta> {
        let mut out: Vec<VersionMeta> = self
            .numbers()
            .into_iter()
            .filter_map(|n| self.meta(n))
            .collect();
        out.sort_by_key(|m| m.version);
        out
    }

    /// One version's metadata and text.
    pub fn get(&self, n: u64) -> Result<(VersionMeta, String), StoreError> {
        let meta = self.meta(n).ok_or(StoreError::NotFound(n))?;
        let text = fs::read_to_string(self.text_path(n)).map_err(|e| {
            tracing::warn!(version = n, error = %e, "config store: version text unreadable");
            StoreError::NotFound(n)
        })?;
        Ok((meta, text))
    }

    /// Sets a version's state, and the reason when it failed or was rolled back.
    pub fn set_state(
        &self,
        n: u64,
        state: VersionState,
        reason: Option<String>,
    ) -> Result<(), StoreError> {
        let mut meta = self.meta(n).ok_or(StoreError::NotFound(n))?;
        meta.state = state;
        if reason.is_some() {
            meta.reason = reason;
        }
        self.write_meta(&meta)
    }

    /// The last confirmed version, if any.
    pub fn current(&self) -> Option<u64> {
        let path = self.dir.join("current");
        let text = fs::read_to_string(&path).ok()?;
        match text.trim().parse() {
            Ok(n) => Some(n),
            Err(_) => {
                tracing::warn!(path = %path.display(), "config store: corrupt `current` pointer ignored");
                None
            }
        }
    }

    /// Points `current` at version `n`.
    pub fn set_current(&self, n: u64) -> Result<(), StoreError> {
        self.write(&self.dir.join("current"), format!("{n}\n").as_bytes())
    }

    /// The change waiting for confirmation, if any.
    pub fn pending(&self) -> Option<Pending> {
        let path = self.dir.join("pending.json");
        let bytes = fs::read(&path).ok()?;
        match serde_json::from_slice(&bytes) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "config store: corrupt pending record ignored");
                None
            }
        }
    }

    /// Records (or, with `None`, clears) the change waiting for confirmation.
    pub fn set_pending(&self, pending: Option<Pending>) -> Result<(), StoreError> {
        let path = self.dir.join("pending.json");
        match pending {
            Some(p) => self.write(&path, &to_json(&p)),
            None => atomic::remove(&path).map_err(|e| io(&path, e)),
        }
    }

    /// A unified diff of version `a`'s text against version `b`'s.
    pub fn diff(&self, a: u64, b: u64) -> Result<String, StoreError> {
        let (_, old) = self.get(a)?;
        let (_, new) = self.get(b)?;
        Ok(similar::TextDiff::from_lines(&old, &new)
            .unified_diff()
            .context_radius(3)
            .header(&format!("version {a}"), &format!("version {b}"))
            .to_string())
    }

    fn meta(&self, n: u64) -> Option<VersionMeta> {
        let path = self.meta_path(n);
        let bytes = fs::read(&path).ok()?;
        match serde_json::from_slice::<VersionMeta>(&bytes) {
            Ok(m) if m.version == n && self.text_path(n).is_file() => Some(m),
            Ok(_) => {
                tracing::warn!(path = %path.display(), "config store: version meta without text or with a wrong number, ignored");
                None
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "config store: corrupt version meta ignored");
                None
            }
        }
    }

    fn write_meta(&self, meta: &VersionMeta) -> Result<(), StoreError> {
        self.write(&self.meta_path(meta.version), &to_json(meta))
    }

    fn write(&self, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        atomic::write(path, bytes).map_err(|e| io(path, e))
    }

    fn text_path(&self, n: u64) -> PathBuf {
        self.dir.join(format!("{n:06}.toml"))
    }

    fn meta_path(&self, n: u64) -> PathBuf {
        self.dir.join(format!("{n:06}.meta.json"))
    }

    fn names(&self) -> Result<Vec<String>, StoreError> {
        let entries = fs::read_dir(&self.dir).map_err(|e| io(&self.dir, e))?;
        Ok(entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect())
    }

    /// Numbers that have a meta file (readable or not).
    fn numbers(&self) -> Vec<u64> {
        self.numbered(".meta.json")
    }

    fn numbered(&self, suffix: &str) -> Vec<u64> {
        let names = self.names().unwrap_or_default();
        names
            .iter()
            .filter_map(|name| name.strip_suffix(suffix))
            .filter(|stem| !stem.is_empty() && stem.bytes().all(|b| b.is_ascii_digit()))
            .filter_map(|stem| stem.parse().ok())
            .collect()
    }

    /// The highest number used by any file, so a number is never reused even
    /// when a crash left a text without its meta.
    fn last_number(&self) -> Result<u64, StoreError> {
        self.names()?;
        let metas = self.numbers();
        let texts = self.numbered(".toml");
        Ok(metas.into_iter().chain(texts).max().unwrap_or(0))
    }

    /// Drops the oldest versions beyond [`KEEP`], never `current` or pending.
    fn prune(&self) {
        let mut numbers = self.numbers();
        if numbers.len() <= KEEP {
            return;
        }
        numbers.sort_unstable();
        let keep: Vec<u64> = [
            self.current(),
            self.pending().map(|p| p.version),
            self.pending().map(|p| p.previous),
        ]
        .into_iter()
        .flatten()
        .collect();
        let excess = numbers.len() - KEEP;
        for n in numbers
            .into_iter()
            .filter(|n| !keep.contains(n))
            .take(excess)
        {
            // Meta first: without it the version no longer exists.
            let _ = fs::remove_file(self.meta_path(n));
            let _ = fs::remove_file(self.text_path(n));
        }
        let _ = atomic::sync_dir(&self.dir);
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Serializing these plain structs cannot fail; an empty object is a safe
    // fallback that reads back as corrupt (and is then ignored).
    let mut bytes = serde_json::to_vec_pretty(value).unwrap_or_else(|_| b"{}".to_vec());
    bytes.push(b'\n');
    bytes
}

fn io(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests;
