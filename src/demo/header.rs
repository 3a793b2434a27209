//! Reading a PROXY protocol v1 or v2 header off the front of a stream.
//!
//! Pure with respect to sockets: works over any `AsyncRead` (tests feed it
//! byte slices). It never reads past the header: v2 is read as its 16-byte
//! fixed part then exactly the announced length, v1 byte by byte up to the
//! CRLF (107 bytes at most). Bytes read while deciding that there is no
//! header are handed back so the caller can replay them.

use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncReadExt};

use super::ProxyMode;

/// The 12-byte signature that opens a v2 header.
pub const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// What opens a v1 header.
pub const V1_PREFIX: &[u8; 6] = b"PROXY ";
/// The longest v1 header, CRLF included.
pub const V1_MAX_LEN: usize = 107;
/// The v2 fixed part: signature, version/command, family/protocol, length.
pub const V2_FIXED_LEN: usize = 16;
/// The v2 TLV type holding the authority (SNI or Host).
pub const TLV_AUTHORITY: u8 = 0x02;

/// What the first bytes of a connection say about a PROXY header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Too few bytes to tell.
    NeedMore,
    /// A v1 header (`PROXY `) begins here.
    V1,
    /// A v2 header (the 12-byte signature) begins here.
    V2,
    /// No PROXY header.
    Absent,
}

/// Classifies the first bytes of a connection.
pub fn classify(prefix: &[u8]) -> Start {
    let matches = |sig: &[u8]| {
        let n = prefix.len().min(sig.len());
        prefix[..n] == sig[..n]
    };
    if matches(V2_SIGNATURE) {
        if prefix.len() >= V2_SIGNATURE.len() {
            Start::V2
        } else {
            Start::NeedMore
        }
    } else if matches(V1_PREFIX) {
        if prefix.len() >= V1_PREFIX.len() {
            Start::V1
        } else {
            Start::NeedMore
        }
    } else {
        Start::Absent
    }
}

/// Which PROXY protocol version a header used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// The text form.
    V1,
    /// The binary form.
    V2,
}

/// What a PROXY header told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyInfo {
    /// Which version it was.
    pub version: Version,
    /// The original client, absent for v2 LOCAL and v1 UNKNOWN.
    pub source: Option<SocketAddr>,
    /// The address the client reached, when given.
    pub destination: Option<SocketAddr>,
    /// The v2 AUTHORITY TLV (0x02), when present.
    pub authority: Option<String>,
}

/// Why a connection's PROXY header was refused.
#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    /// Reading from the peer failed.
    #[error("reading the PROXY header: {0}")]
    Io(#[from] std::io::Error),
    /// `required` mode and the connection did not start with a header.
    #[error("no PROXY header and one is required")]
    Missing,
    /// A v1 line longer than 107 bytes.
    #[error("PROXY v1 header longer than {V1_MAX_LEN} bytes")]
    TooLong,
    /// The header did not parse.
    #[error("malformed PROXY header: {0}")]
    Invalid(String),
}

/// Reads an optional PROXY header per `mode`. Returns what it said (if
/// any) and the bytes consumed that were not part of a header, which belong
/// to the protocol that follows.
pub async fn read<R: AsyncRead + Unpin>(
    r: &mut R,
    mode: ProxyMode,
) -> Result<(Option<ProxyInfo>, Vec<u8>), HeaderError> {
    if mode == ProxyMode::Off {
        return Ok((None, Vec::new()));
    }
    let mut buf = Vec::with_capacity(V1_MAX_LEN);
    loop {
        match classify(&buf) {
            Start::NeedMore => match r.read_u8().await {
                Ok(b) => buf.push(b),
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return absent(mode, buf);
                }
                Err(e) => return Err(e.into()),
            },
            Start::Absent => return absent(mode, buf),
            Start::V1 => return read_v1(r, buf).await.map(|i| (Some(i), Vec::new())),
            Start::V2 => return read_v2(r, buf).await.map(|i| (Some(i), Vec::new())),
        }
    }
}

fn absent(mode: ProxyMode, buf: Vec<u8>) -> Result<(Option<ProxyInfo>, Vec<u8>), HeaderError> {
    match mode {
        ProxyMode::Required => Err(HeaderError::Missing),
        _ => Ok((None, buf)),
    }
}

async fn read_v1<R: AsyncRead + Unpin>(
    r: &mut R,
    mut buf: Vec<u8>,
) -> Result<ProxyInfo, HeaderError> {
    while !buf.ends_with(b"\r\n") {
        if buf.len() >= V1_MAX_LEN {
            return Err(HeaderError::TooLong);
        }
        buf.push(r.read_u8().await?);
    }
    parse_v1(&buf)
}

async fn read_v2<R: AsyncRead + Unpin>(
    r: &mut R,
    mut buf: Vec<u8>,
) -> Result<ProxyInfo, HeaderError> {
    let start = buf.len();
    buf.resize(V2_FIXED_LEN, 0);
    r.read_exact(&mut buf[start..]).await?;
    let len = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    buf.resize(V2_FIXED_LEN + len, 0);
    r.read_exact(&mut buf[V2_FIXED_LEN..]).await?;
    parse_v2(&buf)
}

/// Parses one complete v1 header line (CRLF included).
pub fn parse_v1(bytes: &[u8]) -> Result<ProxyInfo, HeaderError> {
    use ppp::v1::{Addresses, Header};
    let header = Header::try_from(bytes).map_err(|e| HeaderError::Invalid(e.to_string()))?;
    let (source, destination) = match header.addresses {
        Addresses::Tcp4(a) => (
            Some(SocketAddr::from((a.source_address, a.source_port))),
            Some(SocketAddr::from((
                a.destination_address,
                a.destination_port,
            ))),
        ),
        Addresses::Tcp6(a) => (
            Some(SocketAddr::from((a.source_address, a.source_port))),
            Some(SocketAddr::from((
                a.destination_address,
                a.destination_port,
            ))),
        ),
        Addresses::Unknown => (None, None),
    };
    Ok(ProxyInfo {
        version: Version::V1,
        source,
        destination,
        authority: None,
    })
}

/// Parses one complete v2 header (fixed part, addresses and TLVs).
pub fn parse_v2(bytes: &[u8]) -> Result<ProxyInfo, HeaderError> {
    use ppp::v2::{Addresses, Command, Header};
    let header = Header::try_from(bytes).map_err(|e| HeaderError::Invalid(e.to_string()))?;
    let (source, destination) = match (header.command, header.addresses) {
        (Command::Proxy, Addresses::IPv4(a)) => (
            Some(SocketAddr::from((a.source_address, a.source_port))),
            Some(SocketAddr::from((
                a.destination_address,
                a.destination_port,
            ))),
        ),
        (Command::Proxy, Addresses::IPv6(a)) => (
            Some(SocketAddr::from((a.source_address, a.source_port))),
            Some(SocketAddr::from((
                a.destination_address,
                a.destination_port,
            ))),
        ),
        _ => (None, None),
    };
    let mut authority = None;
    for tlv in header.tlvs() {
        let tlv = tlv.map_err(|e| HeaderError::Invalid(e.to_string()))?;
        if tlv.kind == TLV_AUTHORITY {
            authority = Some(String::from_utf8_lossy(&tlv.value).into_owned());
        }
    }
    Ok(ProxyInfo {
        version: Version::V2,
        source,
        destination,
        authority,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ppp::v2::{Builder, Command, Protocol, Version as V2};

    fn v2(authority: Option<&str>) -> Vec<u8> {
        let src: SocketAddr = ([198, 51, 100, 10], 40000).into();
        let dst: SocketAddr = ([203, 0, 113, 10], 443).into();
        let mut b = Builder::with_addresses(V2::Two | Command::Proxy, Protocol::Stream, (src, dst));
        if let Some(a) = authority {
            b = b.write_tlv(TLV_AUTHORITY, a.as_bytes()).expect("tlv");
        }
        b.build().expect("build")
    }

    async fn run(
        input: &[u8],
        mode: ProxyMode,
    ) -> Result<(Option<ProxyInfo>, Vec<u8>, Vec<u8>), HeaderError> {
        let mut r = input;
        let (info, replay) = read(&mut r, mode).await?;
        Ok((info, replay, r.to_vec()))
    }

    #[test]
    fn classify_decides_as_soon_as_possible() {
        assert_eq!(classify(b""), Start::NeedMore);
        assert_eq!(classify(b"PRO"), Start::NeedMore);
        assert_eq!(classify(b"PROXY "), Start::V1);
        assert_eq!(classify(b"POST"), Start::Absent);
        assert_eq!(classify(b"\x16\x03\x01"), Start::Absent);
        assert_eq!(classify(&V2_SIGNATURE[..5]), Start::NeedMore);
        assert_eq!(classify(V2_SIGNATURE), Start::V2);
    }

    #[tokio::test]
    async fn v2_with_authority_stops_at_the_header() {
        let mut input = v2(Some("paroisse-a.example.org"));
        input.extend_from_slice(b"GET / HTTP/1.1\r\n");
        let (info, replay, rest) = run(&input, ProxyMode::Required).await.expect("ok");
        let info = info.expect("header");
        assert_eq!(info.version, Version::V2);
        assert_eq!(info.source, Some(([198, 51, 100, 10], 40000).into()));
        assert_eq!(info.authority.as_deref(), Some("paroisse-a.example.org"));
        assert!(replay.is_empty());
        assert_eq!(rest, b"GET / HTTP/1.1\r\n");
    }

    #[tokio::test]
    async fn v1_line_is_read_to_crlf_only() {
        let input = b"PROXY TCP4 198.51.100.11 203.0.113.10 40001 80\r\nGET /";
        let (info, _, rest) = run(input, ProxyMode::Optional).await.expect("ok");
        let info = info.expect("header");
        assert_eq!(info.version, Version::V1);
        assert_eq!(info.source, Some(([198, 51, 100, 11], 40001).into()));
        assert_eq!(rest, b"GET /");
    }

    #[tokio::test]
    async fn no_header_is_replayed_or_refused() {
        let (info, replay, rest) = run(b"POST / HTTP/1.1", ProxyMode::Optional)
            .await
            .expect("ok");
        assert_eq!(info, None);
        assert_eq!([replay, rest].concat(), b"POST / HTTP/1.1");
        assert!(matches!(
            run(b"GET /", ProxyMode::Required).await,
            Err(HeaderError::Missing)
        ));
        let (info, replay, rest) = run(b"PROXY x", ProxyMode::Off).await.expect("ok");
        assert_eq!((info, replay.len(), rest.len()), (None, 0, 7));
    }

    #[tokio::test]
    async fn malformed_headers_are_errors() {
        let long = [b"PROXY ".as_slice(), &[b'1'; 200]].concat();
        assert!(matches!(
            run(&long, ProxyMode::Optional).await,
            Err(HeaderError::TooLong)
        ));
        let bad = b"PROXY TCP4 nonsense\r\n";
        assert!(matches!(
            run(bad, ProxyMode::Optional).await,
            Err(HeaderError::Invalid(_))
        ));
        let mut cut = v2(None);
        cut.truncate(20);
        assert!(matches!(
            run(&cut, ProxyMode::Optional).await,
            Err(HeaderError::Io(_))
        ));
    }
}
