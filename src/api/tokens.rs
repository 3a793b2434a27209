//! API tokens for scripts and CI: named, `read` or `write`, stored as the
//! SHA-256 of the token in `state_dir/api.tokens` (mode 0600), one line
//! each: `NAME ROLE SHA256HEX CREATED_UNIX`. Does I/O (that file).
//!
//! A token is 32 random bytes (256 bits) shown once as `pvt_` + hex. A
//! plain SHA-256 is enough to store it: a slow hash such as argon2 guards
//! low-entropy passwords against guessing, and nobody can guess 256
//! random bits, so a slow hash would only cost time on every request.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Why a token could not be made, found or read.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The token file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// A bad name, role or line.
    #[error("token: {0}")]
    Token(String),
}

/// The token file's name in `state_dir`.
pub const TOKENS_FILE: &str = "api.tokens";
/// Every token starts with this, so a leaked one is easy to recognise.
pub const PREFIX: &str = "pvt_";
const MAX_NAME: usize = 64;
const MAX_TOKENS: usize = 1000;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `GET` only: status, routes, history, ...
    Read,
    /// Everything the API offers, as the admin.
    Write,
}

impl Role {
    /// `read` or `write`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Write => "write",
        }
    }
    /// From `read` or `write`.
    pub fn parse(s: &str) -> Result<Role, TokenError> {
        match s {
            "read" => Ok(Role::Read),
            "write" => Ok(Role::Write),
            other => Err(TokenError::Token(format!(
                "role {other:?}: expected read or write"
            ))),
        }
    }
}

/// One stored token (its hash only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenEntry {
    /// The name it was made under.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// SHA-256 of the token, hex.
    pub hash: String,
    /// When made, Unix seconds.
    pub created: u64,
}

/// The token file for a state directory.
pub fn tokens_path(state_dir: &Path) -> PathBuf {
    state_dir.join(TOKENS_FILE)
}

fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn check_name(name: &str) -> Result<(), TokenError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(TokenError::Token(format!(
            "token name {name:?}: 1 to {MAX_NAME} letters, digits, '-', '_' or '.'"
        )))
    }
}

/// The stored tokens; none when the file does not exist. A malformed
/// line is an error naming the file and line.
pub fn list(state_dir: &Path) -> Result<Vec<TokenEntry>, TokenError> {
    let path = tokens_path(state_dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(TokenError::Io { path, source: e }),
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| parse_line(l).ok_or_else(|| bad_line(&path, i + 1)))
        .collect()
}

fn bad_line(path: &Path, line: usize) -> TokenError {
    TokenError::Token(format!("{}:{line}: not a token line", path.display()))
}

fn parse_line(line: &str) -> Option<TokenEntry> {
    let mut f = line.split_whitespace();
    let (name, role, hash, created) = (f.next()?, f.next()?, f.next()?, f.next()?);
    let hex = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit());
    if f.next().is_some() || !hex || check_name(name).is_err() {
        return None;
    }
    Some(TokenEntry {
        name: name.to_string(),
        role: Role::parse(role).ok()?,
        hash: hash.to_ascii_lowercase(),
        created: created.parse().ok()?,
    })
}

fn save(state_dir: &Path, entries: &[TokenEntry]) -> Result<(), TokenError> {
    std::fs::create_dir_all(state_dir).map_err(|e| TokenError::Io {
        path: state_dir.to_path_buf(),
        source: e,
    })?;
    let text: String = entries
        .iter()
        .map(|t| format!("{} {} {} {}\n", t.name, t.role.as_str(), t.hash, t.created))
        .collect();
    let path = tokens_path(state_dir);
    write_private(&path, text.as_bytes()).map_err(|source| TokenError::Io { path, source })
}

/// Makes a token; returns it (the only time it is seen). Refuses a name
/// already in use.
pub fn create(state_dir: &Path, name: &str, role: Role, now: u64) -> Result<String, TokenError> {
    check_name(name)?;
    let mut entries = list(state_dir)?;
    if entries.iter().any(|t| t.name == name) {
        return Err(TokenError::Token(format!(
            "a token named {name:?} exists; revoke it first"
        )));
    }
    if entries.len() >= MAX_TOKENS {
        return Err(TokenError::Token(format!("at most {MAX_TOKENS} tokens")));
    }
    let token = format!("{PREFIX}{}", random_hex());
    entries.push(TokenEntry {
        name: name.to_string(),
        role,
        hash: digest(&token),
        created: now,
    });
    save(state_dir, &entries)?;
    Ok(token)
}

/// Removes a token by name; an error when there is none of that name.
pub fn revoke(state_dir: &Path, name: &str) -> Result<(), TokenError> {
    let mut entries = list(state_dir)?;
    let before = entries.len();
    entries.retain(|t| t.name != name);
    if entries.len() == before {
        return Err(TokenError::Token(format!("no token named {name:?}")));
    }
    save(state_dir, &entries)
}

/// The stored entry matching a presented token, if any.
pub fn verify(state_dir: &Path, token: &str) -> Result<Option<TokenEntry>, TokenError> {
    if !token.starts_with(PREFIX) || token.len() > 200 {
        return Ok(None);
    }
    let hash = digest(token);
    Ok(list(state_dir)?.into_iter().find(|t| same(&t.hash, &hash)))
}

/// 32 random bytes from the OS as hex: API tokens, session ids and CSRF
/// tokens (the admin port's `auth::token`).
pub fn random_hex() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two secrets (or their hashes) without an early exit: token
/// hashes here, session and CSRF tokens on the admin port.
pub fn same(a: &str, b: &str) -> bool {
    same_bytes(a.as_bytes(), b.as_bytes())
}

/// [`same`] for bytes (e.g. a password hash's output).
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Writes `bytes` to `path` readable by its owner only (0600), through a
/// temporary file and a rename, so a reader never sees half a file. The
/// token file, the admin key and certificate and the password hash use it.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn create_verify_revoke_and_file_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let t = create(dir.path(), "ci", Role::Read, 5).unwrap();
        assert!(t.starts_with(PREFIX) && t.len() == PREFIX.len() + 64);
        let mode = std::fs::metadata(tokens_path(dir.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let text = std::fs::read_to_string(tokens_path(dir.path())).unwrap();
        assert!(
            !text.contains(&t[PREFIX.len()..]),
            "only the hash is stored"
        );
        assert_eq!(verify(dir.path(), &t).unwrap().unwrap().role, Role::Read);
        assert!(verify(dir.path(), "pvt_00").unwrap().is_none());
        assert!(create(dir.path(), "ci", Role::Write, 6).is_err(), "dup");
        assert!(create(dir.path(), "bad name", Role::Write, 6).is_err());
        revoke(dir.path(), "ci").unwrap();
        assert!(verify(dir.path(), &t).unwrap().is_none());
        assert!(revoke(dir.path(), "ci").is_err());
    }

    #[test]
    fn a_bad_line_names_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(tokens_path(dir.path()), "ci read nothex 1\n").unwrap();
        let e = list(dir.path()).unwrap_err().to_string();
        assert!(e.contains("api.tokens:1"), "{e}");
    }
}
