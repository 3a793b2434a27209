//! A minimal HTTP/1.1 client over the control socket (hyper). Does I/O.

use std::path::Path;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use tokio::net::UnixStream;

use super::ControlError;

/// Sends one request to `/api/v1{path}` and decodes the JSON answer; a
/// non-2xx answer becomes [`ControlError::Api`] with the daemon's message.
pub async fn call<T: DeserializeOwned>(
    socket: &Path,
    method: Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> Result<T, ControlError> {
    let (status, bytes) = raw(socket, method, path, body).await?;
    if !(200..300).contains(&status) {
        let message = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
        return Err(ControlError::Api { status, message });
    }
    let bytes = if bytes.is_empty() {
        Bytes::from_static(b"null")
    } else {
        bytes
    };
    serde_json::from_slice(&bytes)
        .map_err(|e| ControlError::Http(format!("unexpected answer: {e}")))
}

/// Sends one request; returns the status and the body.
pub async fn raw(
    socket: &Path,
    method: Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> Result<(u16, Bytes), ControlError> {
    let stream = UnixStream::connect(socket)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                ControlError::NotRunning {
                    path: socket.to_path_buf(),
                }
            }
            _ => ControlError::Io {
                path: socket.to_path_buf(),
                source: e,
            },
        })?;
    let http = |e: hyper::Error| ControlError::Http(e.to_string());
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(http)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let payload = match &body {
        Some(v) => Bytes::from(v.to_string()),
        None => Bytes::new(),
    };
    let mut req = Request::builder()
        .method(method)
        .uri(format!("/api/v1{path}"))
        .header("host", "parvis")
        .header("content-type", "application/json");
    // Over SSH: the daemon's safety net must know whom a change could cut.
    if let Some(ip) = super::ssh_client() {
        req = req.header(super::SOURCE_HEADER, ip.to_string());
    }
    let req = req
        .body(Full::new(payload))
        .map_err(|e| ControlError::Http(e.to_string()))?;
    let resp = sender.send_request(req).await.map_err(http)?;
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.map_err(http)?.to_bytes();
    Ok((status, bytes))
}
