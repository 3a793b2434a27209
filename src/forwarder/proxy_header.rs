//! PROXY protocol v1/v2 headers: encode what the forwarder sends to a
//! backend, decode what a trusted peer sends to a listener. Pure, no I/O.

use std::net::{IpAddr, SocketAddr};

use ppp::v2;

use crate::config::{canonical_ip, ProxyVersion};

/// The v2 signature; a v1 header starts with `PROXY `.
pub const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
const V1_PREFIX: &[u8; 6] = b"PROXY ";
/// The most header bytes read from a trusted peer.
pub const MAX_HEADER: usize = 4096;

/// A header that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyHeaderError {
    /// Not a PROXY header or an invalid one.
    #[error("malformed PROXY header: {0}")]
    Malformed(String),
    /// Longer than [`MAX_HEADER`].
    #[error("PROXY header longer than {MAX_HEADER} bytes")]
    Oversized,
}

/// What a decoded header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    /// A proxied connection from `source` to `destination`.
    Proxy {
        /// The real client.
        source: SocketAddr,
        /// The address the client reached.
        destination: SocketAddr,
    },
    /// LOCAL (v2) or UNKNOWN (v1): keep the peer's own address.
    Local,
}

/// Result of looking at the bytes so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeStatus {
    /// Incomplete.
    NeedMore,
    /// A whole header of `consumed` bytes.
    Done(Decoded, usize),
    /// Refused.
    Error(ProxyHeaderError),
}

/// True, false, or not yet known whether `buf` starts like a PROXY header.
pub fn looks_like_header(buf: &[u8]) -> Option<bool> {
    let maybe_v1 = buf.len() < V1_PREFIX.len() && V1_PREFIX.starts_with(buf);
    let maybe_v2 = buf.len() < V2_SIGNATURE.len() && V2_SIGNATURE.starts_with(buf);
    if maybe_v1 || maybe_v2 {
        return None;
    }
    Some(buf.starts_with(V1_PREFIX) || buf.starts_with(V2_SIGNATURE))
}

/// Source and destination in one family: IPv4-mapped addresses become IPv4
/// first (ppp would otherwise write UNKNOWN for a mixed pair); a genuinely
/// mixed pair is written as IPv6.
fn same_family(client: SocketAddr, local: SocketAddr) -> (SocketAddr, SocketAddr) {
    let c = SocketAddr::new(canonical_ip(client.ip()), client.port());
    let l = SocketAddr::new(canonical_ip(local.ip()), local.port());
    let to_v6 = |a: SocketAddr| match a.ip() {
        IpAddr::V4(v4) => SocketAddr::new(IpAddr::V6(v4.to_ipv6_mapped()), a.port()),
        IpAddr::V6(_) => a,
    };
    if c.is_ipv4() == l.is_ipv4() {
        (c, l)
    } else {
        (to_v6(c), to_v6(l))
    }
}

/// The v2 TLVs of one connection, each sent where known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tlvs<'a> {
    /// AUTHORITY (0x02): the SNI or Host.
    pub authority: Option<&'a str>,
    /// ALPN (0x01).
    pub alpn: Option<&'a [u8]>,
    /// UNIQUE_ID (0x05), at most 128 bytes by the spec.
    pub unique_id: Option<&'a [u8]>,
}

/// The header for a proxied connection, or an empty vector for `Off`.
/// `authority` (the SNI or Host) goes into the v2 AUTHORITY TLV.
pub fn encode(
    version: ProxyVersion,
    client: SocketAddr,
    local: SocketAddr,
    authority: Option<&str>,
) -> Vec<u8> {
    let tlvs = Tlvs {
        authority,
        ..Tlvs::default()
    };
    encode_tlvs(version, client, local, &tlvs)
}

/// As [`encode`], with every TLV of `tlvs` that is set (v2 only).
pub fn encode_tlvs(
    version: ProxyVersion,
    client: SocketAddr,
    local: SocketAddr,
    tlvs: &Tlvs<'_>,
) -> Vec<u8> {
    let (src, dst) = same_family(client, local);
    match version {
        ProxyVersion::Off => Vec::new(),
        ProxyVersion::V1 => ppp::v1::Addresses::from((src, dst))
            .to_string()
            .into_bytes(),
        ProxyVersion::V2 => {
            let builder = v2::Builder::with_addresses(
                v2::Version::Two | v2::Command::Proxy,
                v2::Protocol::Stream,
                (src, dst),
            );
            let unique = tlvs.unique_id.filter(|u| u.len() <= 128);
            let parts = [
                (v2::Type::ALPN, tlvs.alpn),
                (v2::Type::Authority, tlvs.authority.map(str::as_bytes)),
                (v2::Type::UniqueId, unique),
            ];
            let with_tlvs = parts
                .into_iter()
                .try_fold(builder, |b, (kind, value)| match value {
                    Some(v) => b.write_tlv(kind, v),
                    None => Ok(b),
                });
            // Building only fails past 64 KiB, which a host name (255),
            // a protocol name (255) and an id (128) cannot reach.
            with_tlvs.and_then(v2::Builder::build).unwrap_or_default()
        }
    }
}

/// The header a health check sends: v2 LOCAL or a v1 UNKNOWN line.
pub fn encode_health(version: ProxyVersion) -> Vec<u8> {
    match version {
        ProxyVersion::Off => Vec::new(),
        ProxyVersion::V1 => b"PROXY UNKNOWN\r\n".to_vec(),
        ProxyVersion::V2 => {
            let mut out = V2_SIGNATURE.to_vec();
            out.extend_from_slice(&[0x20, 0x00, 0x00, 0x00]);
            out
        }
    }
}

/// Decodes a v1 or v2 header at the start of `buf`.
pub fn decode(buf: &[u8]) -> DecodeStatus {
    match looks_like_header(buf) {
        None => return DecodeStatus::NeedMore,
        Some(false) => {
            return DecodeStatus::Error(ProxyHeaderError::Malformed("no signature".into()))
        }
        Some(true) => {}
    }
    if buf.starts_with(V2_SIGNATURE) {
        decode_v2(buf)
    } else {
        decode_v1(buf)
    }
}

fn decode_v2(buf: &[u8]) -> DecodeStatus {
    let Some(len) = buf.get(14..16) else {
        return DecodeStatus::NeedMore;
    };
    let total = 16 + usize::from(u16::from_be_bytes([len[0], len[1]]));
    if total > MAX_HEADER {
        return DecodeStatus::Error(ProxyHeaderError::Oversized);
    }
    let Some(bytes) = buf.get(..total) else {
        return DecodeStatus::NeedMore;
    };
    match v2::Header::try_from(bytes) {
        Ok(h) => {
            let decoded = match (h.command, h.addresses) {
                (v2::Command::Proxy, v2::Addresses::IPv4(a)) => Decoded::Proxy {
                    source: SocketAddr::new(a.source_address.into(), a.source_port),
                    destination: SocketAddr::new(a.destination_address.into(), a.destination_port),
                },
                (v2::Command::Proxy, v2::Addresses::IPv6(a)) => Decoded::Proxy {
                    source: SocketAddr::new(a.source_address.into(), a.source_port),
                    destination: SocketAddr::new(a.destination_address.into(), a.destination_port),
                },
                _ => Decoded::Local,
            };
            DecodeStatus::Done(decoded, total)
        }
        Err(e) => DecodeStatus::Error(ProxyHeaderError::Malformed(e.to_string())),
    }
}

fn decode_v1(buf: &[u8]) -> DecodeStatus {
    // A v1 line is at most 107 bytes including CRLF.
    let Some(end) = buf.iter().take(107).position(|&b| b == b'\n') else {
        return if buf.len() >= 107 {
            DecodeStatus::Error(ProxyHeaderError::Malformed("v1 line too long".into()))
        } else {
            DecodeStatus::NeedMore
        };
    };
    let line = &buf[..=end];
    match ppp::v1::Header::try_from(line) {
        Ok(h) => {
            let decoded = match h.addresses {
                ppp::v1::Addresses::Tcp4(a) => Decoded::Proxy {
                    source: SocketAddr::new(a.source_address.into(), a.source_port),
                    destination: SocketAddr::new(a.destination_address.into(), a.destination_port),
                },
                ppp::v1::Addresses::Tcp6(a) => Decoded::Proxy {
                    source: SocketAddr::new(a.source_address.into(), a.source_port),
                    destination: SocketAddr::new(a.destination_address.into(), a.destination_port),
                },
                ppp::v1::Addresses::Unknown => Decoded::Local,
            };
            DecodeStatus::Done(decoded, line.len())
        }
        Err(e) => DecodeStatus::Error(ProxyHeaderError::Malformed(e.to_string())),
    }
}

#[cfg(test)]
#[path = "proxy_header_tests.rs"]
mod tests;
