//! Reads the first HTTP/1.x request head and finds its Host. Pure, no I/O:
//! the caller keeps the raw bytes and replays them unchanged.

/// The most bytes of request head accepted.
pub const MAX_HEAD: usize = 16 * 1024;

/// Why a request head is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    /// No end of head within [`MAX_HEAD`].
    #[error("request head larger than 16 KiB")]
    Oversized,
    /// The client closed before the end of the head.
    #[error("truncated request head")]
    Truncated,
    /// Not an HTTP/1.x request line.
    #[error("not an HTTP request")]
    NotHttp,
    /// More than one Host header.
    #[error("duplicate Host header")]
    DuplicateHost,
}

/// Result of looking at the bytes so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadStatus {
    /// The head has not ended yet.
    NeedMore,
    /// The head ended; `host` is lower-case without port or trailing dot.
    Done {
        /// The Host, if any (valid name or IP literal).
        host: Option<String>,
        /// Bytes up to and including the blank line.
        consumed: usize,
    },
    /// Refused.
    Error(HeadError),
}

/// Looks at every byte received so far; each call scans only the new bytes
/// (plus three for a split terminator), so a head sent one byte per segment
/// costs linear, not quadratic, time.
#[derive(Debug, Default)]
pub struct HeadReader {
    scanned: usize,
}

impl HeadReader {
    /// A reader at the start of a connection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Looks at every byte received so far (`raw` only grows between calls).
    pub fn poll(&mut self, raw: &[u8]) -> HeadStatus {
        let from = self.scanned.saturating_sub(3);
        self.scanned = raw.len();
        poll_from(raw, from)
    }
}

/// Looks at a whole buffer at once.
pub fn poll(raw: &[u8]) -> HeadStatus {
    poll_from(raw, 0)
}

fn poll_from(raw: &[u8], from: usize) -> HeadStatus {
    // Judged first, on every call, so that the answer does not depend on how
    // the head was segmented (the method ends before any line break).
    if !request_line_plausible(raw) {
        return HeadStatus::Error(HeadError::NotHttp);
    }
    let Some(end) = find_end(raw, from) else {
        if raw.len() >= MAX_HEAD {
            return HeadStatus::Error(HeadError::Oversized);
        }
        return HeadStatus::NeedMore;
    };
    if end > MAX_HEAD {
        return HeadStatus::Error(HeadError::Oversized);
    }
    match parse_head(&raw[..end]) {
        Ok(host) => HeadStatus::Done {
            host,
            consumed: end,
        },
        Err(e) => HeadStatus::Error(e),
    }
}

/// Offset just past the `\r\n\r\n` (or bare `\n\n`) that ends the head.
fn find_end(raw: &[u8], from: usize) -> Option<usize> {
    let mut i = from.min(raw.len());
    while let Some(pos) = raw[i..].iter().position(|&b| b == b'\n') {
        let at = i + pos;
        let next = raw.get(at + 1..).unwrap_or(&[]);
        if next.first() == Some(&b'\n') {
            return Some(at + 2);
        }
        if next.starts_with(b"\r\n") {
            return Some(at + 3);
        }
        i = at + 1;
    }
    None
}

/// The longest method accepted (the registered ones are far shorter).
const MAX_METHOD: usize = 16;

/// A method token of 1 to [`MAX_METHOD`] upper-case letters so far, so junk
/// is refused early.
fn request_line_plausible(raw: &[u8]) -> bool {
    let method_len = raw
        .iter()
        .take(MAX_METHOD + 1)
        .take_while(|b| b.is_ascii_uppercase())
        .count();
    match raw.get(method_len) {
        None => method_len <= MAX_METHOD,
        Some(b' ') => (1..=MAX_METHOD).contains(&method_len),
        Some(_) => false,
    }
}

fn parse_head(head: &[u8]) -> Result<Option<String>, HeadError> {
    let text = std::str::from_utf8(head).map_err(|_| HeadError::NotHttp)?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request = lines.next().unwrap_or_default();
    let mut parts = request.split(' ');
    let (method, target, version) = (parts.next(), parts.next(), parts.next());
    let ok_line = method.is_some_and(|m| !m.is_empty())
        && target.is_some_and(|t| !t.is_empty())
        && version.is_some_and(|v| v.starts_with("HTTP/1."))
        && parts.next().is_none();
    if !ok_line {
        return Err(HeadError::NotHttp);
    }
    let mut host = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.eq_ignore_ascii_case("host") {
            if host.is_some() {
                return Err(HeadError::DuplicateHost);
            }
            host = Some(normalise_host(value.trim()));
        }
    }
    Ok(host.flatten())
}

/// Strips the port and the trailing dot, lower-cases; `None` if not a name.
fn normalise_host(value: &str) -> Option<String> {
    let bare = if let Some(rest) = value.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        value.rsplit_once(':').map_or(value, |(h, _)| h)
    };
    let name = bare.trim_end_matches('.').to_ascii_lowercase();
    if name.parse::<std::net::IpAddr>().is_ok() || crate::config::check_host_name(&name).is_ok() {
        Some(name)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_of(raw: &[u8]) -> Option<String> {
        match poll(raw) {
            HeadStatus::Done { host, consumed } => {
                assert_eq!(consumed, raw.len());
                host
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn host_is_lowercased_port_stripped_any_case_header() {
        assert_eq!(
            host_of(b"GET / HTTP/1.1\r\nhOsT: WWW.Example.org:8080\r\nAccept: */*\r\n\r\n"),
            Some("www.example.org".into())
        );
        assert_eq!(host_of(b"GET / HTTP/1.0\n\n"), None);
        assert_eq!(
            host_of(b"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n"),
            Some("::1".into())
        );
        assert_eq!(host_of(b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), None);
    }

    #[test]
    fn byte_by_byte_needs_more_until_the_blank_line() {
        let raw = b"GET /.well-known/acme-challenge/x HTTP/1.1\r\nHost: a.example.org\r\n\r\nBODY";
        let end = raw.len() - 4;
        let mut reader = HeadReader::new();
        for i in 1..end {
            assert_eq!(reader.poll(&raw[..i]), HeadStatus::NeedMore, "at {i}");
        }
        let done = reader.poll(raw);
        assert_eq!(
            done,
            HeadStatus::Done {
                host: Some("a.example.org".into()),
                consumed: end
            }
        );
    }

    /// Feeds `raw` one byte at a time; the first answer that is not NeedMore.
    fn byte_by_byte(raw: &[u8]) -> HeadStatus {
        let mut reader = HeadReader::new();
        (0..=raw.len())
            .map(|i| reader.poll(&raw[..i]))
            .find(|s| *s != HeadStatus::NeedMore)
            .unwrap_or(HeadStatus::NeedMore)
    }

    /// Found by the `http_head` fuzz target: a junk first byte or an over-long
    /// method was refused when sent in small segments but routed when the
    /// whole head came in one read.
    #[test]
    fn the_method_is_judged_alike_whatever_the_segments() {
        let junk = b"\x06ET / HTTP/1.1\r\nHost: www.example.org\r\n\r\n";
        let long = b"ABCDEFGHIJKLMNOPQ / HTTP/1.1\r\nHost: www.example.org\r\n\r\n";
        for raw in [&junk[..], &long[..]] {
            assert_eq!(poll(raw), HeadStatus::Error(HeadError::NotHttp));
            assert_eq!(byte_by_byte(raw), HeadStatus::Error(HeadError::NotHttp));
        }
        let mut junk_big = junk.to_vec();
        junk_big.resize(MAX_HEAD + 10, b'a');
        assert_eq!(poll(&junk_big), HeadStatus::Error(HeadError::NotHttp));
    }

    #[test]
    fn refusals() {
        let dup = b"GET / HTTP/1.1\r\nHost: a.example.org\r\nhost: b.example.org\r\n\r\n";
        assert_eq!(poll(dup), HeadStatus::Error(HeadError::DuplicateHost));
        assert_eq!(poll(b"\x16\x03\x01"), HeadStatus::Error(HeadError::NotHttp));
        assert_eq!(
            poll(b"GET /\r\n\r\n"),
            HeadStatus::Error(HeadError::NotHttp)
        );
        let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big.resize(MAX_HEAD, b'a');
        assert_eq!(poll(&big), HeadStatus::Error(HeadError::Oversized));
    }
}
