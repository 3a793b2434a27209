//! The connection log's renderings of a [`Finished`] connection: a logfmt
//! line, the journal's native fields, an RFC 5424 frame (octet-counted).
//! Pure, no I/O.

use std::fmt::Write as _;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::forwarder::accounting::Finished;

/// The end time as RFC 3339 UTC with milliseconds.
fn end_time(f: &Finished) -> String {
    let ms = f.started_ms.saturating_add(f.duration_ms);
    let nanos = i128::from(ms) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "-".to_string())
}

/// Control characters and quotes cannot break a line or a field.
fn clean(v: &str) -> String {
    v.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// The fields in log order: (logfmt key, journal field, value); `-` when unknown.
pub fn fields(f: &Finished, tls: bool) -> Vec<(&'static str, &'static str, String)> {
    let opt = |v: Option<String>| v.map_or_else(|| "-".to_string(), |v| clean(&v));
    let (host_key, host_field) = if tls {
        ("sni", "SNI")
    } else {
        ("host", "HOST")
    };
    vec![
        ("time", "CONN_TIME", end_time(f)),
        ("id", "CONN_ID", f.id.clone()),
        ("client", "CLIENT", f.client.to_string()),
        ("listener", "LISTENER", clean(&f.listener)),
        (host_key, host_field, opt(f.host.clone())),
        ("alpn", "ALPN", opt(f.alpn.clone())),
        ("route", "ROUTE", opt(f.route.clone())),
        ("backend", "BACKEND", opt(f.backend.clone())),
        ("server", "SERVER", opt(f.server.map(|s| s.to_string()))),
        ("bytes_in", "BYTES_IN", f.bytes_in.to_string()),
        ("bytes_out", "BYTES_OUT", f.bytes_out.to_string()),
        ("duration_ms", "DURATION_MS", f.duration_ms.to_string()),
        ("ttfb_ms", "TTFB_MS", opt(f.ttfb_ms.map(|t| t.to_string()))),
        ("end", "END", f.end.as_str().to_string()),
        (
            "side",
            "SIDE",
            f.end.side().map_or("-", |s| s.as_str()).to_string(),
        ),
    ]
}

/// One logfmt line, without the newline; values with spaces, `=` or
/// quotes are quoted.
pub fn logfmt(f: &Finished, tls: bool) -> String {
    let mut out = String::from("conn");
    for (key, _, value) in fields(f, tls) {
        let plain = !value.is_empty() && !value.contains([' ', '"', '=', '\\']);
        if plain {
            let _ = write!(out, " {key}={value}");
        } else {
            let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = write!(out, " {key}=\"{escaped}\"");
        }
    }
    out
}

/// A journal native-protocol datagram: `KEY=value` lines (values are
/// single-line by [`clean`]), MESSAGE being the logfmt line.
pub fn journal(f: &Finished, tls: bool) -> Vec<u8> {
    let mut out = format!(
        "MESSAGE={}\nPRIORITY=6\nSYSLOG_IDENTIFIER=parvis\nPARVIS_LOG=conn\n",
        logfmt(f, tls)
    );
    for (_, field, value) in fields(f, tls) {
        let _ = writeln!(out, "{field}={value}");
    }
    out.into_bytes()
}

/// An RFC 5424 message (facility local0, severity info) with octet-counting
/// framing (RFC 6587 3.4.1): `LEN SP <134>1 TIME HOST parvis PID conn - MSG`.
pub fn syslog(f: &Finished, tls: bool, hostname: &str, pid: u32) -> Vec<u8> {
    let host: String = hostname
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(255)
        .collect();
    let host = if host.is_empty() {
        "-".to_string()
    } else {
        host
    };
    let msg = format!(
        "<134>1 {} {host} parvis {pid} conn - {}",
        end_time(f),
        logfmt(f, tls)
    );
    format!("{} {msg}", msg.len()).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forwarder::EndReason;

    fn sample() -> Finished {
        Finished {
            id: "0badcafe-2a".into(),
            started_ms: 1_764_583_200_000,
            listener: "https".into(),
            client: "198.51.100.7:40000".parse().expect("addr"),
            host: Some("paroisse-a.example.org".into()),
            alpn: Some("h2".into()),
            route: Some("route[0]".into()),
            backend: Some("ingress-https".into()),
            server: Some("10.0.0.11:443".parse().expect("addr")),
            bytes_in: 517,
            bytes_out: 4096,
            duration_ms: 1234,
            ttfb_ms: Some(3),
            end: EndReason::BackendDown,
        }
    }

    #[test]
    fn logfmt_line_has_every_field() {
        let line = logfmt(&sample(), true);
        assert_eq!(
            line,
            "conn time=2025-12-01T10:00:01.234Z id=0badcafe-2a client=198.51.100.7:40000 \
             listener=https sni=paroisse-a.example.org alpn=h2 route=route[0] \
             backend=ingress-https server=10.0.0.11:443 bytes_in=517 bytes_out=4096 \
             duration_ms=1234 ttfb_ms=3 end=backend_down side=backend"
        );
        let mut odd = sample();
        odd.host = Some("a b\"c\nd".into());
        odd.server = None;
        let line = logfmt(&odd, false);
        assert!(line.contains(r#" host="a b\"c?d" "#), "{line}");
        assert!(line.contains(" server=- "), "{line}");
    }

    #[test]
    fn journal_fields_and_syslog_frame() {
        let j = String::from_utf8(journal(&sample(), true)).expect("utf-8");
        for want in [
            "\nSNI=paroisse-a.example.org\n",
            "\nCLIENT=198.51.100.7:40000\n",
            "\nSERVER=10.0.0.11:443\n",
            "\nEND=backend_down\n",
        ] {
            assert!(j.contains(want), "{want:?} in {j}");
        }
        assert!(j.starts_with("MESSAGE=conn time="));
        let frame = String::from_utf8(syslog(&sample(), true, "edge 1", 42)).expect("utf-8");
        let (len, msg) = frame.split_once(' ').expect("a length");
        assert_eq!(len.parse::<usize>().expect("a number"), msg.len());
        assert!(
            msg.starts_with("<134>1 2025-12-01T10:00:01.234Z edge1 parvis 42 conn - conn time="),
            "{msg}"
        );
    }
}
