//! The OpenStack calls of the "neutron" failover mode: a Keystone v3 token
//! from an application credential (POST /v3/auth/tokens, kept and renewed),
//! then GET and PUT /v2.0/floatingips/{id}. Does I/O (HTTP); the JSON
//! shapes are those of the real APIs.

use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use hyper::Method;
use serde_json::{json, Value};

use super::neutron_error::NeutronError;
use super::neutron_http::{Http, Url};
use crate::config::{CredentialSecret, HaNeutron, Secret};

/// A token older than this is renewed before use (Keystone's default
/// lifetime is 1 h).
const TOKEN_AGE: Duration = Duration::from_secs(30 * 60);
/// Longest API message kept in an error.
const MESSAGE_MAX: usize = 200;

/// Where the floating IP points, as Neutron says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FloatingIp {
    /// The port it is associated with.
    pub port_id: Option<String>,
    /// The fixed address on that port.
    pub fixed_ip_address: Option<String>,
    /// The floating address itself.
    pub floating_ip_address: Option<String>,
    /// ACTIVE, DOWN...
    pub status: Option<String>,
}

struct Token {
    value: String,
    network: Url,
    got: Instant,
}

/// The API, with the credential and the token in hand.
pub struct Api {
    http: Http,
    auth: Url,
    network: Option<Url>,
    region: Option<String>,
    id: String,
    secret: Secret,
    floating_ip: String,
    token: tokio::sync::Mutex<Option<Token>>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("auth", &self.auth)
            .field("floating_ip", &self.floating_ip)
            .finish_non_exhaustive()
    }
}

impl Api {
    /// Reads the secret (a file must be 0600) and prepares the client.
    pub fn new(n: &HaNeutron) -> Result<Api, NeutronError> {
        let secret = match &n.credential_secret {
            CredentialSecret::Inline(s) => s.clone(),
            CredentialSecret::File(p) => read_secret(p)?,
        };
        Ok(Api {
            http: Http::new(n.ca_file.as_deref(), n.timeout)?,
            auth: Url::parse(&n.auth_url)?,
            network: n.network_url.as_deref().map(Url::parse).transpose()?,
            region: n.region.clone(),
            id: n.credential_id.clone(),
            secret,
            floating_ip: n.floating_ip.clone(),
            token: tokio::sync::Mutex::new(None),
        })
    }

    /// Gets a token now unless a fresh one is in hand (so that a failover
    /// needs one call, not two).
    pub async fn warm(&self) -> Result<(), NeutronError> {
        self.token(false).await.map(|_| ())
    }

    /// GET /v2.0/floatingips/{id}.
    pub async fn get(&self) -> Result<FloatingIp, NeutronError> {
        self.call(Method::GET, None).await
    }

    /// PUT /v2.0/floatingips/{id}: associate with `port` (at `fixed`).
    pub async fn associate(
        &self,
        port: &str,
        fixed: Option<IpAddr>,
    ) -> Result<FloatingIp, NeutronError> {
        let mut fip = json!({ "port_id": port });
        if let Some(a) = fixed {
            fip["fixed_ip_address"] = a.to_string().into();
        }
        self.call(Method::PUT, Some(json!({ "floatingip": fip })))
            .await
    }

    async fn call(&self, method: Method, body: Option<Value>) -> Result<FloatingIp, NeutronError> {
        let what = format!("{method} floatingip {}", self.floating_ip);
        let bytes = body.map(|b| b.to_string().into_bytes());
        for renew in [false, true] {
            let (token, network) = self.token(renew).await?;
            let url = network.join(&format!("/floatingips/{}", self.floating_ip));
            let r = self
                .http
                .send(method.clone(), &url, Some(&token), bytes.clone())
                .await?;
            if r.status == 401 && !renew {
                continue;
            }
            if r.status != 200 {
                return Err(self.refused(&what, r.status, &r.body));
            }
            return parse_floating_ip(&r.body);
        }
        Err(NeutronError::Refused {
            call: what,
            status: 401,
            message: "the token was refused twice".into(),
        })
    }

    async fn token(&self, renew: bool) -> Result<(String, Url), NeutronError> {
        let mut held = self.token.lock().await;
        if let Some(t) = held
            .as_ref()
            .filter(|t| !renew && t.got.elapsed() < TOKEN_AGE)
        {
            return Ok((t.value.clone(), t.network.clone()));
        }
        let t = self.authenticate().await?;
        let out = (t.value.clone(), t.network.clone());
        *held = Some(t);
        Ok(out)
    }

    async fn authenticate(&self) -> Result<Token, NeutronError> {
        let body = json!({"auth": {"identity": {
            "methods": ["application_credential"],
            "application_credential": {"id": self.id, "secret": self.secret.0},
        }}});
        let url = self.auth.join("/auth/tokens");
        let r = self
            .http
            .send(
                Method::POST,
                &url,
                None,
                Some(body.to_string().into_bytes()),
            )
            .await?;
        if r.status != 201 && r.status != 200 {
            return Err(self.refused("POST /v3/auth/tokens", r.status, &r.body));
        }
        let value = r
            .subject_token
            .ok_or_else(|| NeutronError::Answer("Keystone sent no X-Subject-Token".into()))?;
        let network = match &self.network {
            Some(u) => u.clone(),
            None => network_endpoint(&r.body, self.region.as_deref())?,
        };
        // Neutron's API lives under /v2.0 of its endpoint.
        let network = if network.path.ends_with("/v2.0") {
            network
        } else {
            network.join("/v2.0")
        };
        Ok(Token {
            value,
            network,
            got: Instant::now(),
        })
    }

    fn refused(&self, call: &str, status: u16, body: &[u8]) -> NeutronError {
        let message = api_message(body).replace(&self.secret.0, "***");
        NeutronError::Refused {
            call: call.to_string(),
            status,
            message,
        }
    }
}

fn read_secret(path: &Path) -> Result<Secret, NeutronError> {
    use std::os::unix::fs::MetadataExt;
    let shown = path.display();
    let meta =
        std::fs::metadata(path).map_err(|e| NeutronError::Secret(format!("{shown}: {e}")))?;
    if meta.mode() & 0o077 != 0 {
        return Err(NeutronError::Secret(format!(
            "{shown} is readable by others (mode {:o}): chmod 600 it",
            meta.mode() & 0o777
        )));
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| NeutronError::Secret(format!("{shown}: {e}")))?;
    let s = text.trim();
    if s.is_empty() || s.chars().any(char::is_control) {
        return Err(NeutronError::Secret(format!(
            "{shown} must hold the secret on one line"
        )));
    }
    Ok(Secret(s.to_string()))
}

/// The `network` endpoint of a token's catalog: the public interface, in
/// `region` when given.
pub fn network_endpoint(body: &[u8], region: Option<&str>) -> Result<Url, NeutronError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| NeutronError::Answer(format!("Keystone's token is not JSON: {e}")))?;
    let services = v
        .pointer("/token/catalog")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            NeutronError::Answer("the token has no catalog: set ha.neutron.network_url".into())
        })?;
    let url = services
        .iter()
        .filter(|s| s.get("type").and_then(Value::as_str) == Some("network"))
        .filter_map(|s| s.get("endpoints").and_then(Value::as_array))
        .flatten()
        .filter(|e| e.get("interface").and_then(Value::as_str) == Some("public"))
        .filter(|e| {
            region.is_none_or(|r| {
                e.get("region_id").and_then(Value::as_str) == Some(r)
                    || e.get("region").and_then(Value::as_str) == Some(r)
            })
        })
        .find_map(|e| e.get("url").and_then(Value::as_str))
        .ok_or_else(|| {
            NeutronError::Answer(format!(
                "the catalog has no public network endpoint{}: set ha.neutron.network_url or region",
                region.map(|r| format!(" in region {r}")).unwrap_or_default()
            ))
        })?;
    Url::parse(url)
}

/// `{"floatingip": {...}}` → [`FloatingIp`].
pub fn parse_floating_ip(body: &[u8]) -> Result<FloatingIp, NeutronError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| NeutronError::Answer(format!("Neutron's answer is not JSON: {e}")))?;
    let f = v
        .get("floatingip")
        .ok_or_else(|| NeutronError::Answer("Neutron's answer has no \"floatingip\"".into()))?;
    let s = |k: &str| f.get(k).and_then(Value::as_str).map(str::to_string);
    Ok(FloatingIp {
        port_id: s("port_id"),
        fixed_ip_address: s("fixed_ip_address"),
        floating_ip_address: s("floating_ip_address"),
        status: s("status"),
    })
}

/// The message of an OpenStack error body (Keystone's `error.message`,
/// Neutron's `NeutronError.message`), else the start of the body.
pub fn api_message(body: &[u8]) -> String {
    let v: Option<Value> = serde_json::from_slice(body).ok();
    let found = v.as_ref().and_then(|v| {
        v.pointer("/error/message")
            .or_else(|| v.pointer("/NeutronError/message"))
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let text = found.unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let mut t: String = text
        .chars()
        .filter(|c| !c.is_control())
        .take(MESSAGE_MAX)
        .collect();
    if t.is_empty() {
        t = "(empty answer)".into();
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_gives_the_public_network_endpoint() {
        let body = br#"{"token":{"catalog":[
          {"type":"identity","endpoints":[{"interface":"public","region_id":"R1","url":"https://k:5000"}]},
          {"type":"network","endpoints":[
            {"interface":"internal","region_id":"R1","url":"http://10.1.1.1:9696"},
            {"interface":"public","region_id":"R2","url":"https://net.r2:9696"},
            {"interface":"public","region_id":"R1","region":"R1","url":"https://net.r1:9696/"}]}]}}"#;
        let u = network_endpoint(body, Some("R1")).expect("found");
        assert_eq!((u.host.as_str(), u.port), ("net.r1", 9696));
        assert_eq!(network_endpoint(body, None).expect("found").host, "net.r2");
        assert!(network_endpoint(body, Some("R3")).is_err());
        assert!(network_endpoint(b"{}", None).is_err());
    }

    #[test]
    fn floating_ips_and_errors_are_read() {
        let f = parse_floating_ip(
            br#"{"floatingip":{"id":"f1","port_id":"p-a","fixed_ip_address":"192.168.10.5","floating_ip_address":"203.0.113.10","status":"ACTIVE"}}"#,
        )
        .expect("valid");
        assert_eq!(f.port_id.as_deref(), Some("p-a"));
        let f = parse_floating_ip(br#"{"floatingip":{"port_id":null}}"#).expect("valid");
        assert_eq!(f.port_id, None);
        assert!(parse_floating_ip(b"<html>").is_err());
        assert_eq!(
            api_message(br#"{"NeutronError":{"type":"X","message":"Port p could not be found.","detail":""}}"#),
            "Port p could not be found."
        );
        assert_eq!(
            api_message(br#"{"error":{"code":401,"message":"The request you have made requires authentication.","title":"Unauthorized"}}"#),
            "The request you have made requires authentication."
        );
        assert_eq!(api_message(b""), "(empty answer)");
    }

    #[test]
    fn a_secret_file_must_be_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("secret");
        std::fs::write(&p, "s3cret-value\n").expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let e = read_secret(&p).expect_err("0644 refused").to_string();
        assert!(e.contains("chmod 600") && !e.contains("s3cret"), "{e}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert_eq!(read_secret(&p).expect("0600 read").0, "s3cret-value");
    }
}
