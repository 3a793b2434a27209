//! A small HTTP/1.1 client (hyper, rustls) for the three OpenStack calls of
//! the "neutron" failover mode: one request per connection, JSON in and
//! out, a timeout on the whole exchange. [`Url`] is pure; [`Http`] does I/O.
//!
//! Why not an OpenStack crate: `openstack_sdk` pulls reqwest and a crate per
//! service (a tree several times parvis's own, and a second TLS stack);
//! `osauth` pulls reqwest with native-tls by default. The failover needs
//! POST /v3/auth/tokens, GET and PUT /v2.0/floatingips/{id}; hyper and
//! rustls are already here.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

use super::neutron_error::NeutronError;

/// An `http://` or `https://` URL, split for a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// TLS or not.
    pub https: bool,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port (default 80 or 443).
    pub port: u16,
    /// Path, starting with `/`, without a trailing `/` (empty for the root).
    pub path: String,
}

impl Url {
    /// Parses `http(s)://host[:port][/path]`; no query, no user info.
    pub fn parse(s: &str) -> Result<Url, NeutronError> {
        let bad = |why: &str| NeutronError::Url(format!("{s:?}: {why}"));
        let (https, rest) = if let Some(r) = s.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(bad("must start with https:// (or http://)"));
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.is_empty() || authority.contains('@') || path.contains(['?', '#', ' ']) {
            return Err(bad(
                "expected scheme://host[:port][/path] without user, query or spaces",
            ));
        }
        let (host, port) = split_port(authority).ok_or_else(|| bad("the port is not 1-65535"))?;
        if host.is_empty() {
            return Err(bad("no host"));
        }
        Ok(Url {
            https,
            host,
            port: port.unwrap_or(if https { 443 } else { 80 }),
            path: path.trim_end_matches('/').to_string(),
        })
    }

    /// This URL with `tail` (starting with `/`) appended to its path.
    pub fn join(&self, tail: &str) -> Url {
        Url {
            path: format!("{}{tail}", self.path),
            ..self.clone()
        }
    }

    fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{host}:{}", self.port)
    }
}

fn split_port(authority: &str) -> Option<(String, Option<u16>)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p > 0)?),
            None if after.is_empty() => None,
            None => return None,
        };
        return Some((host.to_string(), port));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => Some((
            h.to_string(),
            Some(p.parse::<u16>().ok().filter(|p| *p > 0)?),
        )),
        None => Some((authority.to_string(), None)),
    }
}

/// One answer.
#[derive(Debug)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// `X-Subject-Token`, when Keystone sent one.
    pub subject_token: Option<String>,
    /// The body.
    pub body: Bytes,
}

/// The client: TLS roots and the timeout of one exchange.
#[derive(Clone)]
pub struct Http {
    tls: Arc<rustls::ClientConfig>,
    timeout: Duration,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http")
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The system's CA bundle (Debian's ca-certificates).
const SYSTEM_CAS: &str = "/etc/ssl/certs/ca-certificates.crt";

impl Http {
    /// A client trusting the CAs in `ca_file` (PEM), or the system bundle.
    pub fn new(ca_file: Option<&std::path::Path>, timeout: Duration) -> Result<Http, NeutronError> {
        let path = ca_file.unwrap_or(std::path::Path::new(SYSTEM_CAS));
        let ca_err = |why: String| NeutronError::Ca(format!("{}: {why}", path.display()));
        let mut roots = rustls::RootCertStore::empty();
        // Without a bundle, http:// still works (the lab); https:// fails clearly.
        if let Ok(pem) = std::fs::read(path) {
            for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                let cert = cert.map_err(|e| ca_err(e.to_string()))?;
                let _ = roots.add(cert);
            }
        } else if ca_file.is_some() {
            return Err(ca_err("cannot be read".into()));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ca_err(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Http {
            tls: Arc::new(tls),
            timeout,
        })
    }

    /// Sends one request; the whole exchange is bounded by the timeout.
    pub async fn send(
        &self,
        method: hyper::Method,
        url: &Url,
        token: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Result<Response, NeutronError> {
        let what = format!("{method} {}", url.path);
        match tokio::time::timeout(self.timeout, self.exchange(method, url, token, body)).await {
            Ok(r) => r,
            Err(_) => Err(NeutronError::Unreachable(format!(
                "{what} on {}: no answer within {:?}",
                url.authority(),
                self.timeout
            ))),
        }
    }

    async fn exchange(
        &self,
        method: hyper::Method,
        url: &Url,
        token: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Result<Response, NeutronError> {
        let unreachable = |e: &dyn std::fmt::Display| {
            NeutronError::Unreachable(format!("{}: {e}", url.authority()))
        };
        let tcp = tokio::net::TcpStream::connect((url.host.as_str(), url.port))
            .await
            .map_err(|e| unreachable(&e))?;
        let _ = tcp.set_nodelay(true);
        if url.https {
            let name = rustls::pki_types::ServerName::try_from(url.host.clone())
                .map_err(|e| NeutronError::Url(format!("{}: {e}", url.host)))?;
            let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| unreachable(&format!("TLS: {e}")))?;
            request(TokioIo::new(tls), method, url, token, body).await
        } else {
            request(TokioIo::new(tcp), method, url, token, body).await
        }
    }
}

async fn request<S>(
    io: S,
    method: hyper::Method,
    url: &Url,
    token: Option<&str>,
    body: Option<Vec<u8>>,
) -> Result<Response, NeutronError>
where
    S: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let http = |e: hyper::Error| NeutronError::Unreachable(format!("{}: {e}", url.authority()));
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(http)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let path = if url.path.is_empty() { "/" } else { &url.path };
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", url.authority())
        .header("accept", "application/json")
        .header("user-agent", "parvis-ha");
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    if let Some(t) = token {
        req = req.header("x-auth-token", t);
    }
    let req = req
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .map_err(|e| NeutronError::Url(e.to_string()))?;
    let resp = sender.send_request(req).await.map_err(http)?;
    let status = resp.status().as_u16();
    let subject_token = resp
        .headers()
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = resp.into_body().collect().await.map_err(http)?.to_bytes();
    Ok(Response {
        status,
        subject_token,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_split_and_checked() {
        let u = Url::parse("https://keystone.example:5000/v3/").expect("valid");
        assert_eq!(
            (u.https, u.host.as_str(), u.port, u.path.as_str()),
            (true, "keystone.example", 5000, "/v3")
        );
        assert_eq!(u.join("/auth/tokens").path, "/v3/auth/tokens");
        let u = Url::parse("http://192.168.10.1").expect("valid");
        assert_eq!((u.port, u.path.as_str()), (80, ""));
        let u = Url::parse("https://[2001:db8::1]:9696").expect("valid");
        assert_eq!((u.host.as_str(), u.port), ("2001:db8::1", 9696));
        assert_eq!(u.authority(), "[2001:db8::1]:9696");
        for bad in [
            "ftp://x",
            "keystone:5000",
            "https://",
            "https://h:0",
            "https://h:99999",
            "https://u@h/",
            "https://h/v3?x=1",
        ] {
            assert!(Url::parse(bad).is_err(), "{bad}");
        }
    }
}
