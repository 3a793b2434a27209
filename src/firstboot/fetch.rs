//! The first boot's metadata, read in Rust only: fetching the metadata
//! service with retries and backoff until it answers (each failure said on
//! the console), writing what it sent into the metadata folder once it
//! parses, and the facts the first-boot script needs from it (instance id,
//! host name, SSH keys) so the script keeps no JSON parser of its own.
//! [`backoff`], [`hostname`] and [`ssh_keys`] are pure; [`fetch`] and
//! [`write_docs`] do I/O (TCP, files).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use super::FirstbootError;
use crate::net::metadata::{self, Metadata, RawDocs};

/// How the metadata service is retried.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// The wait after the first failure; doubled after each one...
    pub first_delay: Duration,
    /// ...up to this.
    pub max_delay: Duration,
    /// Attempts before giving up; 0: until the metadata is read.
    pub attempts: u32,
}

/// The wait after failed attempt `n` (1-based): `first · 2^(n-1)`, capped.
pub fn backoff(retry: &Retry, n: u32) -> Duration {
    let factor = 1u32
        .checked_shl(n.saturating_sub(1).min(20))
        .unwrap_or(u32::MAX);
    retry
        .first_delay
        .checked_mul(factor)
        .unwrap_or(retry.max_delay)
        .min(retry.max_delay)
}

/// Fetches the metadata service at `service` until it answers with
/// metadata that parses (or `retry.attempts` failed), telling `say` about
/// each failure and the next try; writes the documents under `out`
/// (`openstack/latest/...`). A document that does not parse is not retried.
pub async fn fetch(
    service: SocketAddr,
    out: &Path,
    retry: Retry,
    mut say: impl FnMut(&str),
) -> Result<Metadata, FirstbootError> {
    let origin = format!("http://{service}");
    let mut n = 0u32;
    let docs = loop {
        n = n.saturating_add(1);
        match metadata::fetch_service(service, metadata::source::SERVICE_TIMEOUT).await {
            Ok(docs) => break docs,
            Err(e) if retry.attempts != 0 && n >= retry.attempts => {
                say(&format!(
                    "metadata service: attempt {n} failed ({e}); giving up"
                ));
                return Err(e.into());
            }
            Err(e) => {
                let wait = backoff(&retry, n);
                say(&format!(
                    "metadata service: attempt {n} failed ({e}); next try in {} ms",
                    wait.as_millis()
                ));
                tokio::time::sleep(wait).await;
            }
        }
    };
    let meta = metadata::parse(
        &origin,
        &docs.meta,
        docs.network.as_deref(),
        docs.user_data.clone(),
    )?;
    write_docs(out, &docs)?;
    say(&format!("metadata service read after {n} attempt(s)"));
    Ok(meta)
}

/// Writes the documents into `dir/openstack/latest/` (each through a
/// temporary name), removing a document the service no longer has.
pub fn write_docs(dir: &Path, docs: &RawDocs) -> Result<(), FirstbootError> {
    let latest = dir.join("openstack/latest");
    let io = |path: &Path, source| FirstbootError::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(&latest).map_err(|e| io(&latest, e))?;
    let files: [(&str, Option<&[u8]>); 3] = [
        ("meta_data.json", Some(&docs.meta)),
        ("network_data.json", docs.network.as_deref()),
        ("user_data", docs.user_data.as_deref()),
    ];
    for (name, bytes) in files {
        let path = latest.join(name);
        match bytes {
            Some(b) => {
                let tmp = latest.join(format!(".{name}.tmp"));
                std::fs::write(&tmp, b).map_err(|e| io(&tmp, e))?;
                std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
            }
            None => match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&path, e)),
                _ => {}
            },
        }
    }
    Ok(())
}

/// The host name to set: the metadata's `hostname` (else `name`) up to its
/// first dot, lower case, `_` as `-`, only `[a-z0-9-]`, at most 63
/// characters; `None` when nothing is left.
pub fn hostname(meta: &Metadata) -> Option<String> {
    let raw = meta.meta.hostname.as_ref().or(meta.meta.name.as_ref())?;
    let first = raw.split('.').next().unwrap_or_default();
    let name: String = first
        .chars()
        .map(|c| {
            if c == '_' {
                '-'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
        .take(63)
        .collect();
    (!name.is_empty()).then_some(name)
}

/// The SSH public keys (`public_keys` and `keys` of type `ssh`), one line
/// each, only lines that look like a key; sorted, without duplicates.
pub fn ssh_keys(meta: &Metadata) -> Vec<String> {
    let all = meta
        .meta
        .public_keys
        .values()
        .chain(meta.meta.ssh_keys.iter());
    let mut keys: Vec<String> = all
        .flat_map(|k| k.lines())
        .map(str::trim)
        .filter(|l| ["ssh-", "ecdsa-", "sk-"].iter().any(|p| l.starts_with(p)))
        .map(str::to_string)
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_never_overflows() {
        let r = Retry {
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            attempts: 0,
        };
        let waits: Vec<u64> = (1..=8).map(|n| backoff(&r, n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff(&r, u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn hostname_and_keys_are_cleaned() {
        let meta = br#"{"uuid":"u","hostname":"Edge_1.novalocal","public_keys":{"k":"ssh-ed25519 AAAA a@b\nrm -rf /"},
            "keys":[{"type":"ssh","data":"ssh-ed25519 AAAA a@b"},{"type":"x509","data":"ssh-rsa NO"}]}"#;
        let m = metadata::parse("t", meta, None, None).unwrap();
        assert_eq!(hostname(&m).as_deref(), Some("edge-1"));
        assert_eq!(ssh_keys(&m), ["ssh-ed25519 AAAA a@b"]);
        let weird = metadata::parse("t", br#"{"name":"...@@@"}"#, None, None).unwrap();
        assert_eq!(hostname(&weird), None);
    }
}
