//! The connection log's renderings of a [`Finished`] connection: a logfmt
//! line, the journal's native fields, an RFC 5424 frame (octet-counted).
//! Pure, no I/O.

use std::fmt::Write as _;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::forwarder::accounting::Finished;

/// The end time as RFC 3339 UTC with milliseconds.
fn end_time(f: &Finished) -> String {
    let mut out = String::new();
    write_end_time(&mut out, f);
    out
}

/// Appends the end time as RFC 3339 UTC with milliseconds (trailing zeros
/// of the fraction dropped, none when whole, as the `time` crate writes
/// it), or `-` when out of range. The part up to the seconds comes from
/// the `time` crate once per second and is remembered per thread: the
/// log writer prints thousands of lines a second.
fn write_end_time(out: &mut String, f: &Finished) {
    thread_local! {
        static SECOND: std::cell::RefCell<(u64, String)> =
            const { std::cell::RefCell::new((u64::MAX, String::new())) };
    }
    let ms = f.started_ms.saturating_add(f.duration_ms);
    let (secs, frac) = (ms / 1000, ms % 1000);
    let whole = SECOND.with(|cell| {
        let mut memo = cell.borrow_mut();
        if memo.0 != secs {
            let formatted = i64::try_from(secs)
                .ok()
                .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
                .and_then(|t| t.format(&Rfc3339).ok());
            // "…:SSZ" without its "Z"; empty when out of range.
            let prefix = formatted
                .and_then(|t| t.strip_suffix('Z').map(str::to_string))
                .unwrap_or_default();
            *memo = (secs, prefix);
        }
        if memo.1.is_empty() {
            return false;
        }
        out.push_str(&memo.1);
        true
    });
    if !whole {
        out.push('-');
        return;
    }
    if frac != 0 {
        let digits = [frac / 100, frac / 10 % 10, frac % 10];
        let keep = if digits[2] != 0 {
            3
        } else if digits[1] != 0 {
            2
        } else {
            1
        };
        out.push('.');
        for d in &digits[..keep] {
            out.push(char::from_digit(u32::try_from(*d).unwrap_or(0), 10).unwrap_or('0'));
        }
    }
    out.push('Z');
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
    let mut out = String::with_capacity(320);
    write_logfmt(&mut out, f, tls);
    out
}

/// Appends [`logfmt`]'s line to `out`. Written field by field into the one
/// buffer (the same text as rendering [`fields`] and joining them, without
/// a string per field: this runs once per connection).
pub fn write_logfmt(out: &mut String, f: &Finished, tls: bool) {
    use std::fmt::Write as _;
    out.push_str("conn time=");
    write_end_time(out, f);
    push_field(out, "id", &f.id);
    let _ = write!(out, " client={}", f.client);
    push_field(out, "listener", &f.listener);
    push_field(out, if tls { "sni" } else { "host" }, opt_str(&f.host));
    push_field(out, "alpn", opt_str(&f.alpn));
    push_field(out, "route", opt_str(&f.route));
    push_field(out, "backend", opt_str(&f.backend));
    match f.server {
        Some(server) => drop(write!(out, " server={server}")),
        None => out.push_str(" server=-"),
    }
    let _ = write!(
        out,
        " bytes_in={} bytes_out={} duration_ms={}",
        f.bytes_in, f.bytes_out, f.duration_ms
    );
    match f.ttfb_ms {
        Some(t) => drop(write!(out, " ttfb_ms={t}")),
        None => out.push_str(" ttfb_ms=-"),
    }
    out.push_str(" end=");
    out.push_str(f.end.as_str());
    out.push_str(" side=");
    out.push_str(f.end.side().map_or("-", |s| s.as_str()));
}

fn opt_str(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("-")
}

/// Appends ` key=value`: cleaned of control characters, and quoted (with
/// `\` and `"` escaped) when empty or holding a space, `"`, `=` or `\`.
fn push_field(out: &mut String, key: &str, value: &str) {
    out.push(' ');
    out.push_str(key);
    out.push('=');
    let cleaned;
    let value = if value.contains(char::is_control) {
        cleaned = clean(value);
        cleaned.as_str()
    } else {
        value
    };
    if !value.is_empty() && !value.contains([' ', '"', '=', '\\']) {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
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

    /// The line as it was rendered before `write_logfmt`: from
    /// [`fields`], one string per field, joined.
    fn reference(f: &Finished, tls: bool) -> String {
        let mut out = String::from("conn");
        for (key, _, value) in fields(f, tls) {
            if !value.is_empty() && !value.contains([' ', '"', '=', '\\']) {
                out += &format!(" {key}={value}");
            } else {
                let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
                out += &format!(" {key}=\"{escaped}\"");
            }
        }
        out
    }

    #[test]
    fn the_direct_line_equals_the_field_by_field_rendering() {
        let mut cases = vec![sample()];
        let odd_values = [
            "",
            "a b",
            "x=y",
            "q\"q",
            "back\\slash",
            "tab\there",
            "\u{7f}",
            "é",
        ];
        for v in odd_values {
            let mut f = sample();
            f.host = Some(v.into());
            f.listener = v.into();
            f.alpn = Some(v.into());
            cases.push(f);
        }
        for ms in [0, 1, 10, 100, 120, 999, 1000, 59_999] {
            let mut f = sample();
            f.started_ms = 1_764_583_200_000 + ms;
            f.duration_ms = 0;
            cases.push(f);
        }
        let mut far = sample();
        far.started_ms = u64::MAX;
        cases.push(far);
        let mut v6 = sample();
        v6.client = "[2001:db8::1]:443".parse().expect("addr");
        v6.server = None;
        v6.ttfb_ms = None;
        v6.host = None;
        v6.end = EndReason::ClientClosed;
        cases.push(v6);
        for f in &cases {
            for tls in [true, false] {
                assert_eq!(logfmt(f, tls), reference(f, tls), "{f:?}");
            }
        }
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
