//! The admin account: the argon2id password hash in `state_dir/admin.passwd`
//! (I/O: reads and writes that file), the in-memory sessions with their
//! CSRF tokens. The session logic is pure (time is passed in); the
//! per-source login throttle is in `throttle`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::Argon2;

use super::AdminError;

/// The one account name.
pub const USERNAME: &str = crate::api::UI_USER;
/// The password file's name in `state_dir`.
pub const PASSWD_FILE: &str = "admin.passwd";

/// The password file for a state directory.
pub fn passwd_path(state_dir: &Path) -> PathBuf {
    state_dir.join(PASSWD_FILE)
}

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> Result<String, AdminError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AdminError::Password(e.to_string()))
}

/// Stores the hash of `password` in `state_dir/admin.passwd` (mode 0600,
/// owned by the owner of `state_dir`, who runs the daemon).
/// Refuses an empty password or one shorter than 8 characters.
pub fn set_password(state_dir: &Path, password: &str) -> Result<PathBuf, AdminError> {
    if password.chars().count() < 8 {
        return Err(AdminError::Password(
            "password: at least 8 characters".into(),
        ));
    }
    let hash = hash_password(password)?;
    std::fs::create_dir_all(state_dir).map_err(|e| AdminError::Io {
        path: state_dir.to_path_buf(),
        source: e,
    })?;
    let path = passwd_path(state_dir);
    super::tls::write_private(&path, format!("{hash}\n").as_bytes())?;
    give_to_dir_owner(&path, state_dir)?;
    Ok(path)
}

/// Makes `path` owned by the owner of `dir`: `sudo parvis passwd` runs as
/// root, the daemon as the state directory's owner (`_parvis` in the
/// image), which must be able to read the hash.
fn give_to_dir_owner(path: &Path, dir: &Path) -> Result<(), AdminError> {
    use std::os::unix::fs::MetadataExt;
    let io = |p: &Path, e| AdminError::Io {
        path: p.to_path_buf(),
        source: e,
    };
    let owner = std::fs::metadata(dir).map_err(|e| io(dir, e))?;
    let file = std::fs::metadata(path).map_err(|e| io(path, e))?;
    if (file.uid(), file.gid()) == (owner.uid(), owner.gid()) {
        return Ok(());
    }
    std::os::unix::fs::chown(path, Some(owner.uid()), Some(owner.gid())).map_err(|e| {
        AdminError::Password(format!(
            "cannot give {} to the owner of {} (uid {}), who runs the daemon: {e}",
            path.display(),
            dir.display(),
            owner.uid()
        ))
    })
}

/// The first `$argon2id$...` string in a file's text (a bare hash file or
/// user data that carries one).
pub fn find_hash(text: &str) -> Option<&str> {
    let start = text.find("$argon2id$")?;
    let rest = &text[start..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Largest argon2 memory cost accepted from a password file (256 MiB).
const MAX_M_COST_KIB: u32 = 256 * 1024;

/// Checks a password against the hash in `state_dir`. `Ok(false)` for a
/// wrong password; an error when no usable hash is stored.
pub fn verify(state_dir: &Path, password: &str) -> Result<bool, AdminError> {
    verify_with(state_dir, password, &mut Vec::new())
}

/// [`verify`] with argon2's working memory in `memory`, which is grown
/// as needed and kept by the caller, so that repeated checks reuse the
/// same pages instead of allocating about 19 MiB each time.
pub fn verify_with(
    state_dir: &Path,
    password: &str,
    memory: &mut Vec<argon2::Block>,
) -> Result<bool, AdminError> {
    let path = passwd_path(state_dir);
    let text = std::fs::read_to_string(&path).map_err(|e| unreadable(&path, e))?;
    let bad = |what: String| AdminError::Password(format!("{}: {what}", path.display()));
    let hash = find_hash(&text).ok_or_else(|| bad("no $argon2id$ hash".into()))?;
    let parsed = PasswordHash::new(hash).map_err(|e| bad(e.to_string()))?;
    let algorithm =
        argon2::Algorithm::try_from(parsed.algorithm).map_err(|e| bad(e.to_string()))?;
    let version = parsed
        .version
        .map_or(Ok(argon2::Version::default()), argon2::Version::try_from)
        .map_err(|e| bad(e.to_string()))?;
    let params = argon2::Params::try_from(&parsed).map_err(|e| bad(e.to_string()))?;
    if params.m_cost() > MAX_M_COST_KIB {
        return Err(bad(format!(
            "memory cost {} KiB is over {MAX_M_COST_KIB}",
            params.m_cost()
        )));
    }
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(bad("the hash has no salt or no output".into()));
    };
    let mut salt_buf = [0u8; 64];
    let salt = salt
        .decode_b64(&mut salt_buf)
        .map_err(|e| bad(e.to_string()))?;
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), argon2::Block::new());
    }
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..])
        .map_err(|e| bad(e.to_string()))?;
    Ok(same_bytes(&out, expected.as_bytes()))
}

/// The error for a password file that cannot be read; says what to do
/// when the daemon's user lacks the right to read it.
fn unreadable(path: &Path, e: std::io::Error) -> AdminError {
    if e.kind() != std::io::ErrorKind::PermissionDenied {
        return AdminError::Io {
            path: path.to_path_buf(),
            source: e,
        };
    }
    let uid = std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m));
    let who = uid.map_or_else(|_| "?".to_string(), |u| u.to_string());
    AdminError::Password(format!(
        "cannot read {}: permission denied to the daemon (uid {who}); \
         run `parvis passwd --config FILE` again, which makes the file the state directory owner's",
        path.display()
    ))
}

/// A random token, 32 bytes as hex; comparing secrets without an early
/// exit. One home for both: `api::tokens`, which the API tokens use too.
pub use crate::api::tokens::{random_hex as token, same, same_bytes};

/// One logged-in session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The token for `X-CSRF-Token` and form fields.
    pub csrf: String,
    /// Who logged in from where.
    pub source: IpAddr,
    created: Instant,
    last_seen: Instant,
}

/// The live sessions, by cookie value.
#[derive(Debug, Default)]
pub struct Sessions {
    by_id: HashMap<String, Session>,
}

impl Sessions {
    /// Opens a session; returns (cookie value, csrf token).
    pub fn open(&mut self, source: IpAddr, now: Instant) -> (String, String) {
        let id = token();
        let csrf = token();
        self.by_id.insert(
            id.clone(),
            Session {
                csrf: csrf.clone(),
                source,
                created: now,
                last_seen: now,
            },
        );
        (id, csrf)
    }

    /// The session for a cookie value, if it is alive; touches it.
    /// An expired session is removed.
    pub fn touch(
        &mut self,
        id: &str,
        now: Instant,
        idle: Duration,
        max: Duration,
    ) -> Option<Session> {
        let alive = self.by_id.get(id).map(|s| {
            now.duration_since(s.last_seen) <= idle && now.duration_since(s.created) <= max
        })?;
        if !alive {
            self.by_id.remove(id);
            return None;
        }
        let s = self.by_id.get_mut(id)?;
        s.last_seen = now;
        Some(s.clone())
    }

    /// Ends a session.
    pub fn close(&mut self, id: &str) {
        self.by_id.remove(id);
    }

    /// Drops the sessions past their time (called now and then).
    pub fn sweep(&mut self, now: Instant, idle: Duration, max: Duration) {
        self.by_id.retain(|_, s| {
            now.duration_since(s.last_seen) <= idle && now.duration_since(s.created) <= max
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn password_round_trip_and_file_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        assert!(set_password(dir.path(), "short").is_err());
        let path = set_password(dir.path(), "correct horse").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(verify(dir.path(), "correct horse").unwrap());
        assert!(!verify(dir.path(), "wrong horse").unwrap());
    }

    #[test]
    fn the_hash_file_belongs_to_the_state_dir_owner() {
        use std::os::unix::fs::MetadataExt;
        // Run as root (the suite is): `sudo parvis passwd` for a daemon
        // that runs as another user.
        assert_eq!(
            std::fs::metadata("/proc/self").unwrap().uid(),
            0,
            "needs root"
        );
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::chown(dir.path(), Some(65534), Some(65534)).unwrap();
        let path = set_password(dir.path(), "correct horse").unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (65534, 65534));
        assert_eq!(meta.mode() & 0o777, 0o600);
    }

    #[test]
    fn hash_is_found_inside_user_data() {
        let text = "#cloud-config\nparvis_admin_hash: \"$argon2id$v=19$m=1,t=1,p=1$abc$def\"\n";
        assert_eq!(find_hash(text), Some("$argon2id$v=19$m=1,t=1,p=1$abc$def"));
        assert_eq!(find_hash("nothing"), None);
    }

    #[test]
    fn sessions_expire_idle_and_absolute() {
        let mut s = Sessions::default();
        let t0 = Instant::now();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let (id, _) = s.open(ip, t0);
        let idle = Duration::from_secs(10);
        let max = Duration::from_secs(25);
        assert!(s
            .touch(&id, t0 + Duration::from_secs(9), idle, max)
            .is_some());
        assert!(s
            .touch(&id, t0 + Duration::from_secs(18), idle, max)
            .is_some());
        assert!(s
            .touch(&id, t0 + Duration::from_secs(26), idle, max)
            .is_none());
        let (id2, _) = s.open(ip, t0);
        assert!(s
            .touch(&id2, t0 + Duration::from_secs(11), idle, max)
            .is_none());
        assert!(
            s.touch(&id2, t0, idle, max).is_none(),
            "removed once expired"
        );
    }

    #[test]
    fn same_compares_whole_strings() {
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("a", "ab"));
    }
}
