//! The demo ingress's tiny HTTP/1.1: request head parsing, what to do with
//! a request, and the text it answers.
//!
//! Pure apart from [`read_head`], which reads from any `AsyncRead`.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

use super::header::Version;

/// The largest request head accepted.
pub const MAX_HEAD: usize = 8192;
/// The longest `/hold` honoured.
pub const MAX_HOLD: Duration = Duration::from_secs(3600);

/// Why a request could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Reading from the peer failed or it closed early.
    #[error("reading the request: {0}")]
    Io(#[from] std::io::Error),
    /// The head exceeded [`MAX_HEAD`].
    #[error("request head over {MAX_HEAD} bytes")]
    TooLarge,
    /// The request line was not `METHOD TARGET VERSION`.
    #[error("malformed request line")]
    BadRequestLine,
}

/// The parts of a request the demo cares about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `HEAD`, ...
    pub method: String,
    /// The request target, e.g. `/stream?bytes=10`.
    pub target: String,
    /// The `Host` header, if any.
    pub host: Option<String>,
}

/// What to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The one-line description of the connection.
    Info,
    /// `GET /stream?bytes=N`: N bytes of body.
    Stream(u64),
    /// `GET /hold?secs=N`: wait, then [`Action::Info`].
    Hold(Duration),
}

/// Reads up to and including the blank line ending the request head.
pub async fn read_head<R: AsyncRead + Unpin>(r: &mut R) -> Result<Vec<u8>, HttpError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = head_end(&buf) {
            buf.truncate(end);
            return Ok(buf);
        }
        if buf.len() > MAX_HEAD {
            return Err(HttpError::TooLarge);
        }
        let n = r.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The length of the head (through `\r\n\r\n`) if `buf` holds all of it.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// Parses a request head.
pub fn parse_request(head: &[u8]) -> Result<Request, HttpError> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let line = lines.next().ok_or(HttpError::BadRequestLine)?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HttpError::BadRequestLine);
    };
    if method.is_empty() || target.is_empty() || !version.starts_with("HTTP/") {
        return Err(HttpError::BadRequestLine);
    }
    let host = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("host"))
        .map(|(_, value)| value.trim().to_owned());
    Ok(Request {
        method: method.to_owned(),
        target: target.to_owned(),
        host,
    })
}

/// Decides what a request target asks for.
pub fn action(target: &str) -> Action {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let param = |key: &str| {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| v.parse::<u64>().ok())
    };
    match path {
        "/stream" => Action::Stream(param("bytes").unwrap_or(0)),
        "/hold" => Action::Hold(Duration::from_secs(param("secs").unwrap_or(0)).min(MAX_HOLD)),
        _ => Action::Info,
    }
}

/// Everything the info line reports about one connection.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    /// This ingress's name.
    pub ingress: &'a str,
    /// The PROXY source if a header gave one, else the TCP peer.
    pub client: SocketAddr,
    /// The PROXY version used, if any.
    pub proxy: Option<Version>,
    /// The SNI from the TLS handshake.
    pub sni: Option<&'a str>,
    /// The v2 AUTHORITY TLV.
    pub authority: Option<&'a str>,
    /// The `Host` header.
    pub host: Option<&'a str>,
}

/// The info body: one line of `key=value`, `-` for what is absent.
pub fn info_body(seen: &Seen<'_>) -> String {
    let proxy = match seen.proxy {
        Some(Version::V1) => "v1",
        Some(Version::V2) => "v2",
        None => "none",
    };
    format!(
        "ingress={} client={} proxy={} sni={} authority={} host={}\n",
        seen.ingress,
        seen.client,
        proxy,
        seen.sni.unwrap_or("-"),
        seen.authority.unwrap_or("-"),
        seen.host.unwrap_or("-"),
    )
}

/// A 200 response head with the given body length and `Connection: close`.
pub fn response_head(content_length: u64) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {content_length}\r\n\
         Connection: close\r\n\r\n"
    )
}

/// A 400 response for a request that did not parse.
pub const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_line_and_host_are_parsed() {
        let r = parse_request(b"GET /x HTTP/1.1\r\nhOsT: a.example\r\nAccept: */*\r\n\r\n")
            .expect("parse");
        assert_eq!(r.method, "GET");
        assert_eq!(r.target, "/x");
        assert_eq!(r.host.as_deref(), Some("a.example"));
        assert!(parse_request(b"GARBAGE\r\n\r\n").is_err());
        assert!(parse_request(b"GET / FTP\r\n\r\n").is_err());
    }

    #[test]
    fn targets_map_to_actions() {
        assert_eq!(action("/"), Action::Info);
        assert_eq!(action("/stream?bytes=1000"), Action::Stream(1000));
        assert_eq!(action("/stream"), Action::Stream(0));
        assert_eq!(
            action("/hold?x=1&secs=3"),
            Action::Hold(Duration::from_secs(3))
        );
        assert_eq!(action("/hold?secs=999999"), Action::Hold(MAX_HOLD));
    }

    #[test]
    fn info_body_names_everything() {
        let seen = Seen {
            ingress: "ingress1",
            client: ([198, 51, 100, 10], 40000).into(),
            proxy: Some(Version::V2),
            sni: Some("paroisse-a.example.org"),
            authority: Some("paroisse-a.example.org"),
            host: Some("paroisse-a.example.org"),
        };
        assert_eq!(
            info_body(&seen),
            "ingress=ingress1 client=198.51.100.10:40000 proxy=v2 sni=paroisse-a.example.org \
             authority=paroisse-a.example.org host=paroisse-a.example.org\n"
        );
        let bare = Seen {
            proxy: None,
            sni: None,
            authority: None,
            host: None,
            ..seen
        };
        assert!(info_body(&bare).ends_with("proxy=none sni=- authority=- host=-\n"));
        assert!(response_head(7).contains("Content-Length: 7\r\nConnection: close\r\n\r\n"));
    }

    #[tokio::test]
    async fn head_is_read_up_to_the_blank_line() {
        let mut r = &b"GET / HTTP/1.1\r\nHost: h\r\n\r\nbody"[..];
        let head = read_head(&mut r).await.expect("head");
        assert!(head.ends_with(b"\r\n\r\n"));
        let mut short = &b"GET / HTTP/1.1\r\n"[..];
        assert!(read_head(&mut short).await.is_err());
    }
}
