//! Unit tests of the ClientHello reader, on hellos made by rustls and by hand.

// Test hellos are far below 64 KiB, so the u16 length casts cannot truncate.
#![allow(clippy::cast_possible_truncation)]

use std::sync::Arc;

use super::*;

/// A real ClientHello from rustls, as the bytes it would send.
fn rustls_hello(sni: &str, alpn: Vec<Vec<u8>>) -> Vec<u8> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    config.alpn_protocols = alpn;
    let name = rustls::pki_types::ServerName::try_from(sni.to_string()).expect("name");
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).expect("conn");
    let mut out = Vec::new();
    conn.write_tls(&mut out).expect("write");
    out
}

/// A minimal ClientHello with the given raw server_name bytes.
fn hand_hello(sni: Option<&[u8]>) -> Vec<u8> {
    let mut exts = Vec::new();
    if let Some(name) = sni {
        let n = name.len() as u16;
        exts.extend_from_slice(&[0, 0]);
        exts.extend_from_slice(&(n + 5).to_be_bytes());
        exts.extend_from_slice(&(n + 3).to_be_bytes());
        exts.push(0);
        exts.extend_from_slice(&n.to_be_bytes());
        exts.extend_from_slice(name);
    }
    let mut body = vec![3, 3];
    body.extend_from_slice(&[7; 32]);
    body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend_from_slice(&exts);
    let mut hs = vec![1, 0];
    hs.extend_from_slice(&(body.len() as u16).to_be_bytes());
    hs.extend_from_slice(&body);
    records(&hs, usize::MAX)
}

/// Wraps a handshake payload into records of at most `chunk` bytes.
fn records(hs: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for part in hs.chunks(chunk.min(1 << 14)) {
        out.extend_from_slice(&[22, 3, 1]);
        out.extend_from_slice(&(part.len() as u16).to_be_bytes());
        out.extend_from_slice(part);
    }
    out
}

/// Re-splits a one-record hello into records of `chunk` bytes.
fn resplit(raw: &[u8], chunk: usize) -> Vec<u8> {
    records(&raw[5..], chunk)
}

fn feed_bytewise(raw: &[u8]) -> (HelloStatus, usize) {
    let mut reader = HelloReader::new();
    for i in 1..=raw.len() {
        match reader.poll(&raw[..i]) {
            HelloStatus::NeedMore => continue,
            other => return (other, i),
        }
    }
    (HelloStatus::NeedMore, raw.len())
}

fn done(status: HelloStatus) -> ClientHello {
    match status {
        HelloStatus::Done(hello) => hello,
        other => panic!("expected Done, got {other:?}"),
    }
}

#[test]
fn whole_rustls_hello_gives_sni_and_alpn() {
    let raw = rustls_hello(
        "Paroisse-A.Example.org",
        vec![b"h2".to_vec(), b"http/1.1".to_vec()],
    );
    let hello = done(HelloReader::new().poll(&raw));
    assert_eq!(hello.sni, Sni::Name("paroisse-a.example.org".into()));
    assert_eq!(hello.alpn, vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
    assert_eq!(hello.consumed, raw.len());
}

#[test]
fn one_byte_at_a_time_completes_on_the_last_byte() {
    let raw = rustls_hello("a.example.org", vec![]);
    let (status, at) = feed_bytewise(&raw);
    assert_eq!(done(status).sni.name(), Some("a.example.org"));
    assert_eq!(at, raw.len());
}

#[test]
fn several_records_one_byte_each_and_uneven() {
    let raw = rustls_hello("multi.example.org", vec![b"h2".to_vec()]);
    for chunk in [1, 7, 100] {
        let split = resplit(&raw, chunk);
        let (status, at) = feed_bytewise(&split);
        let hello = done(status);
        assert_eq!(hello.sni.name(), Some("multi.example.org"), "chunk {chunk}");
        assert_eq!(hello.consumed, split.len());
        assert_eq!(at, split.len());
    }
}

#[test]
fn large_post_quantum_sized_hello() {
    let alpn: Vec<Vec<u8>> = (0..40)
        .map(|i| format!("proto-{i:02}-{}", "x".repeat(40)).into_bytes())
        .collect();
    let raw = rustls_hello("big.example.org", alpn.clone());
    assert!(raw.len() > 1500, "hello is {} bytes", raw.len());
    let hello = done(HelloReader::new().poll(&raw));
    assert_eq!(hello.alpn, alpn);
    let split = resplit(&raw, 500);
    assert_eq!(
        done(HelloReader::new().poll(&split)).sni.name(),
        Some("big.example.org")
    );
}

#[test]
fn truncated_is_need_more_then_eof() {
    let raw = rustls_hello("a.example.org", vec![]);
    let mut reader = HelloReader::new();
    assert_eq!(reader.poll(&raw[..raw.len() - 1]), HelloStatus::NeedMore);
    assert_eq!(reader.eof(), HelloError::Truncated);
}

#[test]
fn not_tls_is_refused_at_the_first_byte() {
    assert_eq!(
        HelloReader::new().poll(b"G"),
        HelloStatus::Error(HelloError::NotTls)
    );
    let status = HelloReader::new().poll(b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(status, HelloStatus::Error(HelloError::NotTls));
    assert_eq!(
        HelloReader::new().poll(b"\x16\x02\x00\x00\x05"),
        HelloStatus::Error(HelloError::NotTls)
    );
}

#[test]
fn other_handshake_or_record_types_are_refused() {
    let mut raw = hand_hello(Some(b"a.example.org"));
    raw[5] = 2; // ServerHello
    assert_eq!(
        HelloReader::new().poll(&raw),
        HelloStatus::Error(HelloError::NotClientHello)
    );
    let mut split = resplit(&hand_hello(Some(b"a.example.org")), 10);
    split[15] = 23; // second record is application data
    assert!(matches!(
        HelloReader::new().poll(&split),
        HelloStatus::Error(HelloError::Malformed(_))
    ));
}

#[test]
fn oversized_is_refused() {
    let mut raw = vec![22, 3, 1, 0x40, 0x00, 1, 0, 0x50, 0x00];
    assert_eq!(
        HelloReader::new().poll(&raw),
        HelloStatus::Error(HelloError::Oversized)
    );
    // Many small records that never complete a large message.
    raw = vec![22, 3, 1, 0, 4, 1, 0, 0x3f, 0xf0];
    while raw.len() < MAX_HELLO_RAW + 10 {
        raw.extend_from_slice(&[22, 3, 1, 0, 1, 0]);
    }
    assert_eq!(
        HelloReader::new().poll(&raw),
        HelloStatus::Error(HelloError::Oversized)
    );
}

#[test]
fn no_sni_ip_sni_and_junk_sni() {
    assert_eq!(
        done(HelloReader::new().poll(&hand_hello(None))).sni,
        Sni::Absent
    );
    let ip = done(HelloReader::new().poll(&hand_hello(Some(b"192.0.2.1"))));
    assert_eq!(ip.sni, Sni::IpLiteral("192.0.2.1".into()));
    assert_eq!(ip.sni.name(), None);
    let v6 = done(HelloReader::new().poll(&hand_hello(Some(b"2001:db8::1"))));
    assert!(matches!(v6.sni, Sni::IpLiteral(_)));
    let junk = done(HelloReader::new().poll(&hand_hello(Some(b"a b\xff"))));
    assert_eq!(junk.sni, Sni::Invalid);
    let dot = done(HelloReader::new().poll(&hand_hello(Some(b"A.example.org."))));
    assert_eq!(dot.sni.name(), Some("a.example.org"));
}

#[test]
fn inconsistent_lengths_are_malformed_not_panics() {
    let raw = hand_hello(Some(b"a.example.org"));
    for i in 9..raw.len() {
        for v in [0u8, 1, 0x7f, 0xff] {
            let mut bad = raw.clone();
            bad[i] = v;
            let _ = HelloReader::new().poll(&bad);
            let _ = HelloReader::new().poll(&resplit(&bad, 3));
        }
    }
}

/// A hand-made ClientHello whose handshake message (header and body) is
/// exactly `size` bytes, padded with an unknown extension.
fn hello_message_of(size: usize) -> Vec<u8> {
    let base = hand_hello(Some(b"big.example.org"));
    let mut hs = base[5..].to_vec();
    let pad = size - hs.len() - 4;
    hs.extend_from_slice(&[0xff, 0x15]);
    hs.extend_from_slice(&(pad as u16).to_be_bytes());
    hs.resize(hs.len() + pad, 0);
    let body = hs.len() - 4;
    hs[1..4].copy_from_slice(&(body as u32).to_be_bytes()[1..]);
    let ext_len = u16::from_be_bytes([hs[4 + 41], hs[4 + 42]]) as usize + 4 + pad;
    hs[4 + 41..4 + 43].copy_from_slice(&(ext_len as u16).to_be_bytes());
    assert_eq!(hs.len(), size);
    hs
}

#[test]
fn a_16_kib_message_over_two_records_is_accepted() {
    // The contract counts the handshake message, not the record headers.
    let hs = hello_message_of(MAX_HELLO);
    let raw = records(&hs, MAX_HELLO / 2 + 100);
    assert!(
        raw.len() > MAX_HELLO,
        "two records: {} raw bytes",
        raw.len()
    );
    let hello = done(HelloReader::new().poll(&raw));
    assert_eq!(hello.sni.name(), Some("big.example.org"));
    assert_eq!(hello.consumed, raw.len());
    let (status, _) = feed_bytewise(&records(&hs, 1000));
    assert_eq!(done(status).sni.name(), Some("big.example.org"));
    // One byte more is refused, as soon as the header says so.
    let over = records(&hello_message_of(MAX_HELLO + 1), 1000);
    assert_eq!(
        HelloReader::new().poll(&over[..20]),
        HelloStatus::Error(HelloError::Oversized)
    );
    // Empty records cannot be sent for free.
    let mut empty = vec![22, 3, 1, 0, 0];
    empty.extend_from_slice(&raw);
    assert!(matches!(
        HelloReader::new().poll(&empty),
        HelloStatus::Error(HelloError::Malformed(_))
    ));
}
