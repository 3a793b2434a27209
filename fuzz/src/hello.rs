//! The ClientHello reader (`forwarder::hello`): same answer however the
//! records arrive, an answer within the size limit, and a sane result.

use parvis::forwarder::hello::{HelloReader, HelloStatus, Sni, MAX_HELLO};

/// The most raw bytes the reader may stay pending on: a 16 KiB handshake
/// message plus room for the headers of the records that carry it.
const LIMIT: usize = 2 * MAX_HELLO;

/// Feeds `data` as a client's first bytes.
pub fn check(data: &[u8]) {
    let fine = super::check_segmentations(
        data,
        HelloReader::new,
        |r, b| r.poll(b),
        |s| *s == HelloStatus::NeedMore,
        LIMIT,
    );
    let Some((at, HelloStatus::Done(hello))) = fine else {
        return;
    };
    assert_eq!(hello.consumed, at, "consumed vs where it completed");
    match &hello.sni {
        Sni::Name(name) => {
            assert_eq!(name, &name.to_ascii_lowercase(), "SNI not lower-case");
            assert!(!name.ends_with('.'), "SNI with a trailing dot");
            assert!(parvis::config::check_host_name(name).is_ok(), "{name:?}");
        }
        Sni::IpLiteral(ip) => assert!(!ip.is_empty()),
        Sni::Absent | Sni::Invalid => {}
    }
    for proto in &hello.alpn {
        assert!(!proto.is_empty() && proto.len() < 256, "ALPN {proto:?}");
    }
}
