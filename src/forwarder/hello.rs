//! Incremental ClientHello reader: finds the SNI and ALPN offers in the
//! first TLS handshake message without terminating TLS. Pure, no I/O.
//!
//! A small hand parser rather than `rustls::server::Acceptor`: it walks only
//! the length fields it needs, never allocates on the hot path beyond one
//! handshake reassembly buffer, keeps the caller's raw bytes untouched for
//! replay, and tells apart the reasons a hello is refused (not TLS, too big,
//! malformed) that the accounting counts separately. rustls would also reject
//! hellos that are valid TLS but that rustls itself would not negotiate, which
//! is not the forwarder's business. The unit tests cross-check it on real
//! ClientHellos produced by rustls.

use std::net::IpAddr;

/// The largest ClientHello handshake message accepted (its 4-byte header
/// and body), however many records carry it.
pub const MAX_HELLO: usize = 16 * 1024;
/// The most raw bytes (records with their headers) read before the
/// ClientHello is complete: room for the record headers of a hello split
/// into many records, while bounding a stream of tiny ones.
pub const MAX_HELLO_RAW: usize = 2 * MAX_HELLO;

const RECORD_HEADER: usize = 5;
const CONTENT_HANDSHAKE: u8 = 22;
const HANDSHAKE_CLIENT_HELLO: u8 = 1;
const EXT_SERVER_NAME: u16 = 0;
const EXT_ALPN: u16 = 16;

/// What the client asked for, as far as routing cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sni {
    /// A host name, lower-cased, without a trailing dot.
    Name(String),
    /// No server_name extension.
    Absent,
    /// The name is an IP literal (not allowed by RFC 6066): treated as absent.
    IpLiteral(String),
    /// Not a valid DNS name: treated as absent.
    Invalid,
}

impl Sni {
    /// The host name to route on, if there is one.
    pub fn name(&self) -> Option<&str> {
        match self {
            Sni::Name(name) => Some(name),
            _ => None,
        }
    }
}

/// A complete ClientHello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// The server name.
    pub sni: Sni,
    /// ALPN protocols offered, in order.
    pub alpn: Vec<Vec<u8>>,
    /// Raw bytes (records) that carried the hello.
    pub consumed: usize,
}

/// Why bytes are not an acceptable ClientHello.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HelloError {
    /// The first bytes are not a TLS handshake record.
    #[error("not TLS")]
    NotTls,
    /// The first handshake message is not a ClientHello.
    #[error("the first handshake message is not a ClientHello")]
    NotClientHello,
    /// Larger than [`MAX_HELLO`] (or its records over [`MAX_HELLO_RAW`]).
    #[error("ClientHello larger than 16 KiB")]
    Oversized,
    /// The client closed before the hello was complete.
    #[error("truncated ClientHello")]
    Truncated,
    /// A length or field is inconsistent.
    #[error("malformed ClientHello: {0}")]
    Malformed(&'static str),
}

/// Result of feeding bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelloStatus {
    /// Not complete yet: read more and call again.
    NeedMore,
    /// Complete.
    Done(ClientHello),
    /// Refused; the connection should be closed.
    Error(HelloError),
}

/// Reassembles the handshake message from consecutive TLS records.
#[derive(Debug, Default)]
pub struct HelloReader {
    /// Raw offset of the next record header not yet taken in.
    scanned: usize,
    /// Handshake payload collected from the records so far.
    handshake: Vec<u8>,
}

impl HelloReader {
    /// A reader at the start of a connection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Looks at every byte received so far (`raw` only grows between calls).
    pub fn poll(&mut self, raw: &[u8]) -> HelloStatus {
        match self.step(raw) {
            Ok(Some(hello)) => HelloStatus::Done(hello),
            Ok(None) if raw.len() >= MAX_HELLO_RAW => HelloStatus::Error(HelloError::Oversized),
            Ok(None) => HelloStatus::NeedMore,
            Err(e) => HelloStatus::Error(e),
        }
    }

    /// What an end of stream before completion means.
    pub fn eof(&self) -> HelloError {
        HelloError::Truncated
    }

    fn step(&mut self, raw: &[u8]) -> Result<Option<ClientHello>, HelloError> {
        while let Some(header) = raw.get(self.scanned..self.scanned + RECORD_HEADER) {
            check_record_header(header, self.scanned == 0)?;
            let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
            let start = self.scanned + RECORD_HEADER;
            if len == 0 {
                // RFC 8446 5.1: no zero-length handshake fragments (and
                // they would let a client send headers for free).
                return Err(HelloError::Malformed("empty handshake record"));
            }
            let Some(payload) = raw.get(start..start + len) else {
                if start + len > MAX_HELLO_RAW {
                    return Err(HelloError::Oversized);
                }
                // Refuse a declared size early, before its records arrive.
                let partial = raw.get(start..).unwrap_or_default();
                self.check_header(partial)?;
                return Ok(None);
            };
            self.handshake.extend_from_slice(payload);
            self.scanned = start + len;
            if let Some(body) = self.complete_message()? {
                let (sni, alpn) = parse_client_hello(body)?;
                return Ok(Some(ClientHello {
                    sni,
                    alpn,
                    consumed: self.scanned,
                }));
            }
        }
        if self.scanned == 0 && !raw.is_empty() {
            // Refuse non-TLS at the first byte rather than waiting for five.
            check_first_byte(raw[0])?;
        }
        Ok(None)
    }

    /// The ClientHello body once the whole handshake message is collected.
    fn complete_message(&self) -> Result<Option<&[u8]>, HelloError> {
        let Some(len) = message_len(&self.handshake)? else {
            return Ok(None);
        };
        Ok(self.handshake.get(4..4 + len))
    }

    /// Checks the message header from what is collected plus the start of
    /// a record still arriving.
    fn check_header(&self, partial: &[u8]) -> Result<(), HelloError> {
        if self.handshake.len() >= 4 {
            return Ok(());
        }
        let mut head = self.handshake.clone();
        head.extend(partial.iter().take(4 - head.len()));
        message_len(&head).map(|_| ())
    }
}

/// The body length a handshake message header declares, once its four
/// bytes are there; refuses another message type and a message (header
/// and body) larger than [`MAX_HELLO`].
fn message_len(handshake: &[u8]) -> Result<Option<usize>, HelloError> {
    let Some(head) = handshake.get(..4) else {
        return Ok(None);
    };
    if head[0] != HANDSHAKE_CLIENT_HELLO {
        return Err(HelloError::NotClientHello);
    }
    let len = usize::from(head[1]) << 16 | usize::from(head[2]) << 8 | usize::from(head[3]);
    if 4 + len > MAX_HELLO {
        return Err(HelloError::Oversized);
    }
    Ok(Some(len))
}

fn check_first_byte(b: u8) -> Result<(), HelloError> {
    if b == CONTENT_HANDSHAKE {
        Ok(())
    } else {
        Err(HelloError::NotTls)
    }
}

fn check_record_header(h: &[u8], first: bool) -> Result<(), HelloError> {
    if h[0] != CONTENT_HANDSHAKE {
        return Err(if first {
            HelloError::NotTls
        } else {
            HelloError::Malformed("a non-handshake record inside the ClientHello")
        });
    }
    if h[1] != 3 {
        return Err(if first {
            HelloError::NotTls
        } else {
            HelloError::Malformed("record version")
        });
    }
    if u16::from_be_bytes([h[3], h[4]]) > 1 << 14 {
        return Err(HelloError::Malformed("record longer than 2^14"));
    }
    Ok(())
}

/// A bounds-checked reader over a byte slice.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], HelloError> {
        if n > self.0.len() {
            return Err(HelloError::Malformed("a length runs past its container"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, HelloError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, HelloError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn vec8(&mut self) -> Result<&'a [u8], HelloError> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }
    fn vec16(&mut self) -> Result<&'a [u8], HelloError> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Walks the ClientHello body to its extensions.
fn parse_client_hello(body: &[u8]) -> Result<(Sni, Vec<Vec<u8>>), HelloError> {
    let mut c = Cursor(body);
    c.take(2 + 32)?; // legacy_version, random
    if c.vec8()?.len() > 32 {
        return Err(HelloError::Malformed("session id longer than 32"));
    }
    let suites = c.vec16()?;
    if suites.is_empty() || suites.len() % 2 != 0 {
        return Err(HelloError::Malformed("cipher suites"));
    }
    if c.vec8()?.is_empty() {
        return Err(HelloError::Malformed("compression methods"));
    }
    let mut sni = Sni::Absent;
    let mut alpn = Vec::new();
    if c.is_empty() {
        return Ok((sni, alpn));
    }
    let mut exts = Cursor(c.vec16()?);
    if !c.is_empty() {
        return Err(HelloError::Malformed("bytes after the extensions"));
    }
    let (mut seen_sni, mut seen_alpn) = (false, false);
    while !exts.is_empty() {
        let kind = exts.u16()?;
        let data = exts.vec16()?;
        match kind {
            EXT_SERVER_NAME if seen_sni => return Err(HelloError::Malformed("two server_name")),
            EXT_SERVER_NAME => {
                seen_sni = true;
                sni = parse_server_name(data)?;
            }
            EXT_ALPN if seen_alpn => return Err(HelloError::Malformed("two ALPN extensions")),
            EXT_ALPN => {
                seen_alpn = true;
                alpn = parse_alpn(data)?;
            }
            _ => {}
        }
    }
    Ok((sni, alpn))
}

fn parse_server_name(data: &[u8]) -> Result<Sni, HelloError> {
    let mut outer = Cursor(data);
    let mut list = Cursor(outer.vec16()?);
    if !outer.is_empty() {
        return Err(HelloError::Malformed("server_name extension length"));
    }
    let mut found = Sni::Absent;
    while !list.is_empty() {
        let kind = list.u8()?;
        let name = list.vec16()?;
        if kind == 0 && found == Sni::Absent {
            found = classify_name(name);
        }
    }
    Ok(found)
}

/// Lower-cases and checks a host name; IP literals and junk are not names.
fn classify_name(raw: &[u8]) -> Sni {
    let Ok(text) = std::str::from_utf8(raw) else {
        return Sni::Invalid;
    };
    let name = text.trim_end_matches('.').to_ascii_lowercase();
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<IpAddr>().is_ok() {
        return Sni::IpLiteral(name);
    }
    match crate::config::check_host_name(&name) {
        Ok(()) => Sni::Name(name),
        Err(_) => Sni::Invalid,
    }
}

fn parse_alpn(data: &[u8]) -> Result<Vec<Vec<u8>>, HelloError> {
    let mut outer = Cursor(data);
    let mut list = Cursor(outer.vec16()?);
    if !outer.is_empty() {
        return Err(HelloError::Malformed("ALPN extension length"));
    }
    let mut out = Vec::new();
    while !list.is_empty() {
        let proto = list.vec8()?;
        if proto.is_empty() {
            return Err(HelloError::Malformed("empty ALPN protocol"));
        }
        out.push(proto.to_vec());
    }
    Ok(out)
}

#[cfg(test)]
#[path = "hello_tests.rs"]
mod tests;
