//! A tiny HTTP/1.1 GET for the metadata service: one request per
//! connection, `Connection: close`, a hard timeout. Does I/O (TCP).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest body accepted (Nova caps user data at 64 KiB).
const MAX_RESPONSE: u64 = 4 << 20;

/// GETs `path` from `addr`. `Ok(None)` for a 404; other statuses and
/// transport failures are `Err` with a one-line reason.
pub(super) async fn get(
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
) -> Result<Option<Vec<u8>>, String> {
    match tokio::time::timeout(timeout, exchange(addr, path)).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
    }
}

async fn exchange(addr: SocketAddr, path: &str) -> Result<Option<Vec<u8>>, String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: parvis\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        addr.ip()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("cannot send the request: {e}"))?;
    let mut raw = Vec::new();
    stream
        .take(MAX_RESPONSE)
        .read_to_end(&mut raw)
        .await
        .map_err(|e| format!("cannot read the answer: {e}"))?;
    parse_response(&raw)
}

/// Splits status, headers and body; decodes a chunked body.
pub fn parse_response(raw: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the answer has no complete HTTP header")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let body = &raw[end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP status line: {status_line:?}"))?;
    if status == 404 {
        return Ok(None);
    }
    if status != 200 {
        return Err(format!("HTTP status {status} (expected 200)"));
    }
    let mut chunked = false;
    let mut length: Option<usize> = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().ok();
        }
    }
    if chunked {
        return dechunk(body).map(Some);
    }
    match length {
        Some(n) if body.len() < n => Err(format!(
            "the body is cut short: {} of {n} bytes",
            body.len()
        )),
        Some(n) => Ok(Some(body[..n].to_vec())),
        None => Ok(Some(body.to_vec())),
    }
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunk size line is not terminated")?;
        let size_text = String::from_utf8_lossy(&body[..eol]);
        let size_hex = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| format!("bad chunk size {size_hex:?}"))?;
        body = &body[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if size.checked_add(2).is_none_or(|need| body.len() < need) {
            return Err("a chunk is cut short".into());
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::parse_response;

    #[test]
    fn responses() {
        let ok = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(parse_response(ok), Ok(Some(b"{}".to_vec())));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked), Ok(Some(b"abcde".to_vec())));
        let missing = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(parse_response(missing), Ok(None));
        let err = parse_response(b"HTTP/1.1 500 Oops\r\n\r\n").expect_err("500");
        assert!(err.contains("500"), "{err}");
        assert!(parse_response(b"garbage").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc").is_err());
    }

    /// A chunk size near `usize::MAX` overflowed `size + 2` (a panic in a
    /// debug build, a slice past the end in a release build).
    #[test]
    fn absurd_chunk_size_is_an_error() {
        let huge = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nab\r\n0\r\n\r\n";
        let err = parse_response(huge).expect_err("absurd chunk size");
        assert!(err.contains("cut short"), "{err}");
    }
}
