//! Unit tests of the PROXY header codec: exact bytes, families, TLV, decode.

use super::*;

fn sa(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

#[test]
fn v1_tcp4_exact_and_mapped_client_is_tcp4() {
    let want = b"PROXY TCP4 198.51.100.10 192.168.10.5 40000 443\r\n".to_vec();
    let plain = encode(
        ProxyVersion::V1,
        sa("198.51.100.10:40000"),
        sa("192.168.10.5:443"),
        None,
    );
    assert_eq!(plain, want);
    let mapped = encode(
        ProxyVersion::V1,
        sa("[::ffff:198.51.100.10]:40000"),
        sa("[::ffff:192.168.10.5]:443"),
        Some("ignored.example.org"),
    );
    assert_eq!(mapped, want);
    let mixed = encode(
        ProxyVersion::V1,
        sa("[::ffff:198.51.100.10]:40000"),
        sa("192.168.10.5:443"),
        None,
    );
    assert_eq!(mixed, want);
}

#[test]
fn v1_tcp6_and_health_line() {
    let h = encode(
        ProxyVersion::V1,
        sa("[2001:db8::1]:5000"),
        sa("[2001:db8::5]:443"),
        None,
    );
    assert_eq!(
        h,
        b"PROXY TCP6 2001:db8::1 2001:db8::5 5000 443\r\n".to_vec()
    );
    assert_eq!(
        encode_health(ProxyVersion::V1),
        b"PROXY UNKNOWN\r\n".to_vec()
    );
    assert!(encode_health(ProxyVersion::Off).is_empty());
    assert!(encode(ProxyVersion::Off, sa("1.2.3.4:1"), sa("1.2.3.5:2"), None).is_empty());
}

#[test]
fn v2_tcp4_with_authority_tlv_exact_bytes() {
    let h = encode(
        ProxyVersion::V2,
        sa("[::ffff:198.51.100.10]:40000"),
        sa("192.168.10.5:443"),
        Some("a.example.org"),
    );
    let mut want = V2_SIGNATURE.to_vec();
    want.extend_from_slice(&[0x21, 0x11, 0x00, 12 + 3 + 13]);
    want.extend_from_slice(&[198, 51, 100, 10, 192, 168, 10, 5]);
    want.extend_from_slice(&40000u16.to_be_bytes());
    want.extend_from_slice(&443u16.to_be_bytes());
    want.extend_from_slice(&[0x02, 0x00, 13]);
    want.extend_from_slice(b"a.example.org");
    assert_eq!(h, want);
    assert_eq!(
        decode(&h),
        DecodeStatus::Done(
            Decoded::Proxy {
                source: sa("198.51.100.10:40000"),
                destination: sa("192.168.10.5:443")
            },
            h.len()
        )
    );
}

#[test]
fn v2_tcp6_without_tlv_and_local() {
    let h = encode(
        ProxyVersion::V2,
        sa("[2001:db8::1]:5000"),
        sa("[2001:db8::5]:443"),
        None,
    );
    assert_eq!(&h[12..16], &[0x21, 0x21, 0x00, 36]);
    assert_eq!(h.len(), 16 + 36);
    let local = encode_health(ProxyVersion::V2);
    let mut want = V2_SIGNATURE.to_vec();
    want.extend_from_slice(&[0x20, 0x00, 0x00, 0x00]);
    assert_eq!(local, want);
    assert_eq!(decode(&local), DecodeStatus::Done(Decoded::Local, 16));
}

#[test]
fn decode_v1_incrementally_with_trailing_bytes() {
    let line = b"PROXY TCP4 198.51.100.10 192.168.10.5 40000 443\r\n\x16\x03\x01";
    let header_len = line.len() - 3;
    for i in 0..header_len {
        assert_eq!(decode(&line[..i]), DecodeStatus::NeedMore, "at {i}");
    }
    assert_eq!(
        decode(line),
        DecodeStatus::Done(
            Decoded::Proxy {
                source: sa("198.51.100.10:40000"),
                destination: sa("192.168.10.5:443")
            },
            header_len
        )
    );
    assert_eq!(
        decode(b"PROXY UNKNOWN\r\n"),
        DecodeStatus::Done(Decoded::Local, 15)
    );
}

#[test]
fn decode_refuses_junk_and_oversized() {
    assert!(matches!(
        decode(b"GET / HTTP/1.1\r\n"),
        DecodeStatus::Error(_)
    ));
    assert!(matches!(
        decode(b"PROXY TCP4 junk\r\n"),
        DecodeStatus::Error(_)
    ));
    assert!(matches!(decode(&[b'P'; 200]), DecodeStatus::Error(_)));
    let mut big = V2_SIGNATURE.to_vec();
    big.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
    assert_eq!(
        decode(&big),
        DecodeStatus::Error(ProxyHeaderError::Oversized)
    );
    let long_v1 = [b"PROXY ".as_slice(), &[b'1'; 200]].concat();
    assert!(matches!(decode(&long_v1), DecodeStatus::Error(_)));
}

#[test]
fn signature_detection() {
    assert_eq!(looks_like_header(b""), None);
    assert_eq!(looks_like_header(b"PRO"), None);
    assert_eq!(looks_like_header(b"\r\n\r\n"), None);
    assert_eq!(looks_like_header(b"PROXY TCP4"), Some(true));
    assert_eq!(looks_like_header(V2_SIGNATURE), Some(true));
    assert_eq!(looks_like_header(b"\x16\x03\x01"), Some(false));
    assert_eq!(looks_like_header(b"GET /"), Some(false));
    assert_eq!(looks_like_header(b"POST /"), Some(false));
}

#[test]
fn v2_carries_alpn_authority_and_unique_id_tlvs() {
    let client: SocketAddr = "198.51.100.7:40000".parse().expect("test address");
    let local: SocketAddr = "203.0.113.10:443".parse().expect("test address");
    let tlvs = Tlvs {
        authority: Some("a.example.org"),
        alpn: Some(b"acme-tls/1"),
        unique_id: Some(b"0123456789abcdef-1"),
    };
    let bytes = encode_tlvs(ProxyVersion::V2, client, local, &tlvs);
    let header = ppp::v2::Header::try_from(bytes.as_slice()).expect("a v2 header");
    let found: Vec<(u8, Vec<u8>)> = header
        .tlvs()
        .map(|t| {
            let t = t.expect("a TLV");
            (t.kind, t.value.to_vec())
        })
        .collect();
    assert_eq!(
        found,
        vec![
            (0x01, b"acme-tls/1".to_vec()),
            (0x02, b"a.example.org".to_vec()),
            (0x05, b"0123456789abcdef-1".to_vec()),
        ]
    );
    // An id over the spec's 128 bytes is left out rather than sent.
    let long = [b'x'; 129];
    let tlvs = Tlvs {
        unique_id: Some(&long),
        ..Tlvs::default()
    };
    let bytes = encode_tlvs(ProxyVersion::V2, client, local, &tlvs);
    let header = ppp::v2::Header::try_from(bytes.as_slice()).expect("a v2 header");
    assert_eq!(header.tlvs().count(), 0);
    // v1 has no TLVs: the same line as without them.
    assert_eq!(
        encode_tlvs(ProxyVersion::V1, client, local, &tlvs),
        encode(ProxyVersion::V1, client, local, None)
    );
}
