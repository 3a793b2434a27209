//! Helpers for the admin tests: start the HTTPS admin port on 127.0.0.1:0
//! in front of the real daemon core (`engine_support`: change engine,
//! store and forwarder real, the firewall recorded), and a `curl` wrapper that verifies the server
//! against the certificate the server made (no `-k`). Does I/O.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use parvis::admin::{AdminOptions, TlsSource};
use tokio::sync::oneshot;

use super::engine_support::{self, Engine};

/// The header of a JSON body.
pub const JSON: &str = "content-type: application/json";

/// The password every test sets.
pub const PASSWORD: &str = "correct horse battery";

/// A running admin port.
pub struct Admin {
    pub port: u16,
    /// The daemon behind the port; its state folder holds the password.
    pub engine: Engine,
    pub fingerprint: String,
    pub cert: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    pub task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Admin {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Options for fast tests: short delays, low failure threshold.
pub fn fast_options() -> AdminOptions {
    AdminOptions {
        max_failures: 4,
        delay_step: Duration::from_millis(50),
        delay_cap: Duration::from_millis(500),
        ban_secs: 600,
        ..AdminOptions::default()
    }
}

/// Starts the admin port with a password set.
pub async fn start(options: AdminOptions) -> Admin {
    let engine = engine_support::start().await;
    parvis::admin::auth::set_password(engine.dir.path(), PASSWORD).unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let handle = parvis::admin::start(
        "127.0.0.1:0".parse().unwrap(),
        TlsSource::SelfSigned,
        engine.dir.path(),
        engine.daemon.clone(),
        options,
        async {
            let _ = rx.await;
        },
    )
    .await
    .unwrap();
    Admin {
        port: handle.local_addr.port(),
        fingerprint: handle.fingerprint,
        cert: handle.cert_path,
        engine,
        stop: Some(tx),
        task: Some(handle.task),
    }
}

/// One curl answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

impl Resp {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    /// A header's value (first), case-insensitive name.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim().eq_ignore_ascii_case(name)).then(|| v.trim().to_string())
        })
    }
}

impl Admin {
    /// The state folder (password file, tokens, config store).
    pub fn dir(&self) -> &std::path::Path {
        self.engine.dir.path()
    }

    /// The base URL (name `localhost`, resolved to 127.0.0.1).
    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port)
    }

    /// Runs curl with `args` against `path`; verifies the server cert.
    pub async fn curl(&self, method: &str, path: &str, args: &[&str]) -> Resp {
        let hdr = self.engine.dir.path().join(format!("h-{}", rand_name()));
        let body = self.engine.dir.path().join(format!("b-{}", rand_name()));
        let resolve = format!("localhost:{}:127.0.0.1", self.port);
        let out = tokio::process::Command::new("curl")
            .args(["-s", "--max-time", "20", "--cacert"])
            .arg(&self.cert)
            .args(["--resolve", &resolve, "-X", method, "-D"])
            .arg(&hdr)
            .arg("-o")
            .arg(&body)
            .args(["-w", "%{http_code}"])
            .args(args)
            .arg(self.url(path))
            .output()
            .await
            .unwrap();
        let status: u16 = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("curl failed: {}", String::from_utf8_lossy(&out.stderr)));
        Resp {
            status,
            headers: std::fs::read_to_string(&hdr).unwrap_or_default(),
            body: std::fs::read_to_string(&body).unwrap_or_default(),
        }
    }

    /// POSTs `body` as JSON with a session's headers (`cookie: …`,
    /// `x-csrf-token: …`).
    pub async fn post_json(&self, path: &str, (cookie, csrf): (&str, &str), body: &str) -> Resp {
        let args = ["-H", cookie, "-H", csrf, "-H", JSON, "--data", body];
        self.curl("POST", path, &args).await
    }

    /// Logs in over the API; returns (cookie header value, csrf token).
    pub async fn login(&self) -> (String, String) {
        let body = format!(r#"{{"username":"admin","password":"{PASSWORD}"}}"#);
        let r = self
            .curl("POST", "/api/v1/session", &["-H", JSON, "--data", &body])
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        let set = r.header("set-cookie").unwrap();
        let cookie = set.split(';').next().unwrap().to_string();
        let csrf = r.json()["csrf"].as_str().unwrap().to_string();
        (cookie, csrf)
    }

    /// Makes an API token `name` with `role` through the UI's form (the
    /// session `cookie` and its `csrf`); returns the token the page shows once.
    pub async fn create_token(&self, cookie: &str, csrf: &str, name: &str, role: &str) -> String {
        let form = format!("csrf={csrf}&name={name}&role={role}");
        let made = self
            .curl(
                "POST",
                "/tokens/create",
                &["-H", &format!("cookie: {cookie}"), "--data", &form],
            )
            .await;
        assert_eq!(made.status, 200, "{}", made.body);
        made.body
            .split("<code id=\"new-token\">")
            .nth(1)
            .and_then(|r| r.split('<').next())
            .unwrap_or_else(|| panic!("no token shown: {}", made.body))
            .to_string()
    }
}

fn rand_name() -> String {
    parvis::admin::auth::token()[..12].to_string()
}
