//! The PROXY v1/v2 decoder a listener with `accept_proxy` runs on a trusted
//! peer's first bytes (`forwarder::proxy_header::decode`), called again on
//! a growing buffer: the same answer however the bytes arrive, an answer
//! within [`MAX_HEADER`]; and encode → decode gives back the addresses.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use parvis::config::{canonical_ip, ProxyVersion};
use parvis::forwarder::proxy_header::{
    decode, encode, encode_health, DecodeStatus, Decoded, MAX_HEADER,
};

/// Feeds `data` as a trusted peer's first bytes, then encodes addresses
/// drawn from `data` and decodes them back.
pub fn check(data: &[u8]) {
    let fine = super::check_segmentations(
        data,
        || (),
        |_, b| decode(b),
        |s| *s == DecodeStatus::NeedMore,
        MAX_HEADER,
    );
    if let Some((at, DecodeStatus::Done(_, consumed))) = fine {
        assert_eq!(consumed, at, "consumed vs where the header ended");
    }
    round_trip(data);
}

/// Two addresses (either family, v4-mapped included) and an authority.
fn addresses(data: &[u8]) -> Option<(SocketAddr, SocketAddr, String)> {
    let (head, rest) = data.split_first()?;
    let bytes = rest.get(..36)?;
    let one = |b: &[u8], kind: u8| -> SocketAddr {
        let port = u16::from_be_bytes([b[0], b[1]]);
        let mut v6 = [0u8; 16];
        v6.copy_from_slice(&b[2..18]);
        let ip = match kind % 3 {
            0 => IpAddr::V4(Ipv4Addr::new(b[2], b[3], b[4], b[5])),
            1 => IpAddr::V6(Ipv4Addr::new(b[2], b[3], b[4], b[5]).to_ipv6_mapped()),
            _ => IpAddr::V6(Ipv6Addr::from(v6)),
        };
        SocketAddr::new(ip, port)
    };
    // The forwarder sends an SNI or Host here: at most 253 bytes.
    let tail = &rest[36..];
    let authority = String::from_utf8_lossy(&tail[..tail.len().min(253)]).into_owned();
    Some((
        one(&bytes[..18], *head),
        one(&bytes[18..], *head / 3),
        authority,
    ))
}

fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(canonical_ip(a.ip()), a.port())
}

fn round_trip(data: &[u8]) {
    for version in [ProxyVersion::V1, ProxyVersion::V2] {
        let health = encode_health(version);
        assert_eq!(
            decode(&health),
            DecodeStatus::Done(Decoded::Local, health.len())
        );
        let Some((client, local, authority)) = addresses(data) else {
            continue;
        };
        let header = encode(version, client, local, Some(&authority));
        let mut followed = header.clone();
        followed.extend_from_slice(b"\x16\x03\x01");
        let DecodeStatus::Done(
            Decoded::Proxy {
                source,
                destination,
            },
            len,
        ) = decode(&followed)
        else {
            panic!("{version:?} header for {client} → {local} not decoded: {header:?}");
        };
        assert_eq!(len, header.len());
        assert_eq!(canonical(source), canonical(client));
        assert_eq!(canonical(destination), canonical(local));
    }
}
