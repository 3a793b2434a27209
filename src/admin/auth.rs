//! The admin account: the argon2id password hash in `state_dir/admin.passwd`
//! (I/O: reads and writes that file), the in-memory sessions with their
//! CSRF tokens, and the per-source login throttle. The session and
//! throttle logic is pure (time is passed in).

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;

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

/// Stores the hash of `password` in `state_dir/admin.passwd` (mode 0600).
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
    Ok(path)
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

/// Checks a password against the hash in `state_dir`. `Ok(false)` for a
/// wrong password; an error when no usable hash is stored.
pub fn verify(state_dir: &Path, password: &str) -> Result<bool, AdminError> {
    let path = passwd_path(state_dir);
    let text = std::fs::read_to_string(&path).map_err(|e| AdminError::Io {
        path: path.clone(),
        source: e,
    })?;
    let hash = find_hash(&text)
        .ok_or_else(|| AdminError::Password(format!("no $argon2id$ hash in {}", path.display())))?;
    let parsed = PasswordHash::new(hash)
        .map_err(|e| AdminError::Password(format!("{}: {e}", path.display())))?;
    Ok(Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok())
}

/// A random token, 32 bytes as hex.
pub fn token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares secrets without an early exit.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

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

/// Sources tracked before old entries are swept.
const MAX_TRACKED: usize = 10_000;

/// Failed logins per source within a sliding window.
#[derive(Debug, Default)]
pub struct Throttle {
    failures: HashMap<IpAddr, Vec<Instant>>,
}

impl Throttle {
    /// Failures of `source` within `window` before `now`.
    pub fn count(&mut self, source: IpAddr, now: Instant, window: Duration) -> usize {
        let list = self.failures.entry(source).or_default();
        list.retain(|t| now.duration_since(*t) <= window);
        let n = list.len();
        if n == 0 {
            self.failures.remove(&source);
        }
        n
    }

    /// Records one failure; returns the count within the window.
    pub fn fail(&mut self, source: IpAddr, now: Instant, window: Duration) -> usize {
        // Many sources (a spread-out guessing run) must not grow this forever.
        if self.failures.len() > MAX_TRACKED {
            self.failures
                .retain(|_, l| l.last().is_some_and(|t| now.duration_since(*t) <= window));
        }
        self.count(source, now, window);
        let list = self.failures.entry(source).or_default();
        list.push(now);
        list.len()
    }

    /// Forgets a source (after a good login).
    pub fn clear(&mut self, source: IpAddr) {
        self.failures.remove(&source);
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
    fn throttle_counts_within_window() {
        let mut th = Throttle::default();
        let t0 = Instant::now();
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        let w = Duration::from_secs(300);
        assert_eq!(th.fail(ip, t0, w), 1);
        assert_eq!(th.fail(ip, t0 + Duration::from_secs(1), w), 2);
        assert_eq!(th.count(ip, t0 + Duration::from_secs(302), w), 0);
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("a", "ab"));
    }
}
