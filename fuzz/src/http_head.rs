//! The HTTP request-head reader (`forwarder::http`): same answer however
//! the head arrives, an answer within the size limit, and a sane Host.

use parvis::forwarder::http::{self, HeadReader, HeadStatus, MAX_HEAD};

/// Feeds `data` as a client's first bytes.
pub fn check(data: &[u8]) {
    let fine = super::check_segmentations(
        data,
        HeadReader::new,
        |r, b| r.poll(b),
        |s| *s == HeadStatus::NeedMore,
        MAX_HEAD,
    );
    assert_eq!(
        fine.as_ref()
            .map(|(_, s)| s.clone())
            .unwrap_or(HeadStatus::NeedMore),
        http::poll(data),
        "HeadReader vs poll"
    );
    let Some((at, HeadStatus::Done { host, consumed })) = fine else {
        return;
    };
    assert_eq!(consumed, at, "consumed vs where the head ended");
    assert!(data[..consumed].ends_with(b"\n\n") || data[..consumed].ends_with(b"\n\r\n"));
    if let Some(host) = host {
        assert_eq!(host, host.to_ascii_lowercase(), "Host not lower-case");
        assert!(!host.ends_with('.'), "Host with a trailing dot");
        let valid = host.parse::<std::net::IpAddr>().is_ok()
            || parvis::config::check_host_name(&host).is_ok();
        assert!(valid, "Host {host:?}");
    }
}
