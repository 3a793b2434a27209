//! `limits.block_file`: a file of prefixes to drop, one per line, read
//! every time the config is parsed (so at every `parvis check`, apply and
//! reload). I/O: reads that file.
//!
//! Format: one IPv4 or IPv6 address or prefix per line; blank lines are
//! skipped and anything after `#` or `;` is a comment (so threat feeds such
//! as Spamhaus DROP, `1.2.3.0/24 ; SBL123`, load as they are). A bad line
//! is a problem naming the file and the line. The file itself is not
//! echoed beyond what looks like an address: the admin API can name any
//! path, and its errors must not become a way to read other files.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::types::Cidr;

/// Most prefixes a block file may hold.
pub const MAX_BLOCK_FILE_ENTRIES: usize = 1_000_000;
/// Largest block file read, in bytes (64 MiB).
pub const MAX_BLOCK_FILE_BYTES: u64 = 64 << 20;
/// Bad lines reported before the rest are only counted.
const MAX_REPORTED: usize = 5;

/// A block file as read: its path, its prefixes in file order, and a
/// digest of them (shown in the change log when the content changes).
#[derive(Clone, PartialEq, Eq)]
pub struct BlockFile {
    /// The absolute path named by `limits.block_file`.
    pub path: PathBuf,
    /// The prefixes, in file order (duplicates and overlaps kept; the
    /// firewall merges them).
    pub entries: Arc<[Cidr]>,
    /// First 16 hex digits of the SHA-256 of the entries.
    pub digest: String,
}

impl fmt::Debug for BlockFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for BlockFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} prefixes, {})",
            self.path.display(),
            self.entries.len(),
            self.digest
        )
    }
}

impl Serialize for BlockFile {
    /// Only the path: the entries belong to the file, not to the config.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.path.to_string_lossy())
    }
}

/// Reads `path`; `Err` holds one message per problem, each naming the
/// file (and the line, for a bad entry).
pub fn read(path: &str) -> Result<BlockFile, Vec<String>> {
    let p = Path::new(path);
    if !p.is_absolute() {
        return Err(vec![format!(
            "{path:?} is not an absolute path (the daemon does not run in your directory)"
        )]);
    }
    let text = read_text(p).map_err(|e| vec![format!("cannot read {path}: {e}")])?;
    let entries = parse(path, &text)?;
    Ok(BlockFile {
        path: p.to_path_buf(),
        digest: digest(&entries),
        entries: entries.into(),
    })
}

/// The file's text, refusing what is not a regular file (a FIFO or
/// `/dev/zero` would never end) and anything over the size cap.
fn read_text(p: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(p).map_err(|e| io_reason(&e))?;
    if !meta.is_file() {
        return Err("it is not a regular file".into());
    }
    if meta.len() > MAX_BLOCK_FILE_BYTES {
        return Err(format!(
            "it holds {} bytes, more than the {} MiB a block file may hold",
            meta.len(),
            MAX_BLOCK_FILE_BYTES >> 20
        ));
    }
    let file = std::fs::File::open(p).map_err(|e| io_reason(&e))?;
    let mut bytes = Vec::new();
    file.take(MAX_BLOCK_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_reason(&e))?;
    if bytes.len() as u64 > MAX_BLOCK_FILE_BYTES {
        return Err(format!(
            "it grew past the {} MiB a block file may hold",
            MAX_BLOCK_FILE_BYTES >> 20
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let line = e.utf8_error().valid_up_to();
        let at = e.as_bytes()[..line].iter().filter(|b| **b == b'\n').count() + 1;
        format!("line {at} is not UTF-8 text")
    })
}

fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::NotFound => "no such file".into(),
        ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Parses the text of a block file named `name` (used in messages).
pub fn parse(name: &str, text: &str) -> Result<Vec<Cidr>, Vec<String>> {
    let mut entries = Vec::new();
    let mut bad = Vec::new();
    let mut bad_count = 0usize;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split(['#', ';']).next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        match line.parse::<Cidr>() {
            Ok(c) if entries.len() < MAX_BLOCK_FILE_ENTRIES => entries.push(c),
            Ok(_) => {
                return Err(vec![format!(
                    "{name} line {}: more than {MAX_BLOCK_FILE_ENTRIES} prefixes; split the list or merge its prefixes",
                    i + 1
                )])
            }
            Err(_) => {
                bad_count += 1;
                if bad.len() < MAX_REPORTED {
                    bad.push(format!(
                        "{name} line {}: {} is not an IPv4 or IPv6 address or prefix (e.g. 203.0.113.0/24, 2001:db8::/32)",
                        i + 1,
                        shown(line)
                    ));
                }
            }
        }
    }
    if bad_count > bad.len() {
        bad.push(format!("{name}: {} more bad lines", bad_count - bad.len()));
    }
    if bad.is_empty() {
        Ok(entries)
    } else {
        Err(bad)
    }
}

/// The entry as written if it looks like an address (only address
/// characters, short); otherwise a neutral placeholder.
fn shown(entry: &str) -> String {
    let addressy = entry.len() <= 49
        && entry
            .chars()
            .all(|c| c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '/'));
    if addressy {
        format!("{entry:?}")
    } else {
        "the entry".into()
    }
}

/// First 16 hex digits of the SHA-256 over the entries' text.
fn digest(entries: &[Cidr]) -> String {
    let mut h = Sha256::new();
    for c in entries {
        h.update(c.net().to_string().as_bytes());
        h.update(b"\n");
    }
    h.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn comments_blank_lines_and_both_families_are_read() {
        let text = "# feed\n\n192.0.2.66\n203.0.113.0/28 ; SBL1\n2001:db8::/32 # six\n  \n";
        let got = parse("/x", text).unwrap();
        let want: Vec<Cidr> = ["192.0.2.66/32", "203.0.113.0/28", "2001:db8::/32"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_bad_line_is_named_by_file_and_line() {
        let err = parse("/etc/parvis/bl.txt", "192.0.2.1\n\n10.0.0.300/8\n").unwrap_err();
        assert_eq!(err.len(), 1, "{err:?}");
        assert!(
            err[0].starts_with("/etc/parvis/bl.txt line 3: \"10.0.0.300/8\" is not"),
            "{err:?}"
        );
    }

    #[test]
    fn text_that_is_not_an_address_is_not_echoed() {
        let err = parse("/etc/shadow", "root:$6$secret:19000:0:99999:7:::\n").unwrap_err();
        assert!(!err[0].contains("secret"), "{err:?}");
        assert!(err[0].contains("/etc/shadow line 1"), "{err:?}");
    }

    #[test]
    fn many_bad_lines_are_counted_not_all_listed() {
        let text = "x\n".repeat(20);
        let err = parse("/f", &text).unwrap_err();
        assert_eq!(err.len(), MAX_REPORTED + 1, "{err:?}");
        assert_eq!(err[MAX_REPORTED], "/f: 15 more bad lines");
    }

    #[test]
    fn more_than_the_cap_is_refused_with_its_line() {
        let text = "192.0.2.1\n".repeat(MAX_BLOCK_FILE_ENTRIES + 1);
        let err = parse("/f", &text).unwrap_err();
        assert!(
            err[0].contains("line 1000001: more than 1000000"),
            "{err:?}"
        );
    }

    #[test]
    fn relative_paths_missing_files_and_devices_are_refused() {
        assert!(read("bl.txt").unwrap_err()[0].contains("not an absolute path"));
        let missing = read("/nonexistent/pv-block.txt").unwrap_err();
        assert!(missing[0].contains("no such file"), "{missing:?}");
        let dev = read("/dev/zero").unwrap_err();
        assert!(dev[0].contains("not a regular file"), "{dev:?}");
    }

    #[test]
    fn the_digest_follows_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bl.txt");
        std::fs::write(&p, "192.0.2.1\n").unwrap();
        let a = read(p.to_str().unwrap()).unwrap();
        std::fs::write(&p, "# same entries\n192.0.2.1/32\n").unwrap();
        let b = read(p.to_str().unwrap()).unwrap();
        std::fs::write(&p, "192.0.2.2\n").unwrap();
        let c = read(p.to_str().unwrap()).unwrap();
        assert_eq!(a, b);
        assert_ne!(a.digest, c.digest);
        assert_eq!(c.entries.len(), 1);
    }
}
