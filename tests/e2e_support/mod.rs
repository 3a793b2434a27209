//! The lab with the real daemon: topology, demo ingresses, forward target,
//! `parvis serve` in the appliance namespace with the lab's sample config
//! (or a variant), and helpers to talk to it. Does I/O.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use parvis::demo::ProxyMode;
use parvis::lab::{appliance, ChildGuard, DemoHandles, Topology, DEMO_HOSTS, FLOATING_IP};

#[path = "../support/mod.rs"]
mod support;
pub use support::*;

/// A running lab with the daemon; everything goes on drop.
pub struct Lab {
    pub daemon: appliance::Daemon,
    pub dir: PathBuf,
    pub password: String,
    _target: ChildGuard,
    _ingresses: DemoHandles,
    pub topo: Topology,
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The lab with its demo ingresses but no daemon yet, and a folder
/// `pv-<tag>-<pid>-<client namespace>` for the daemon's files (not made).
pub fn bare_lab(tag: &str) -> (Topology, DemoHandles, PathBuf) {
    let topo = topology();
    let ingresses = start_ingresses(&topo, ProxyMode::Optional);
    let dir = std::env::temp_dir().join(format!(
        "pv-{tag}-{}-{}",
        std::process::id(),
        topo.client().name()
    ));
    (topo, ingresses, dir)
}

/// Builds the lab and starts the daemon with `edit(sample config)`.
pub fn lab_with(edit: impl FnOnce(String) -> String) -> Lab {
    let (topo, ingresses, dir) = bare_lab("e2e");
    let exe = parvis_exe();
    let target = appliance::start_forward_target(&topo, &exe)
        .unwrap_or_else(|e| panic!("forward target: {e}"));
    let state = dir.join("state");
    let password = appliance::password();
    parvis::admin::auth::set_password(&state, &password).unwrap_or_else(|e| panic!("passwd: {e}"));
    let text = edit(appliance::config(&topo, &state));
    let daemon =
        appliance::start_daemon(&topo, &exe, &dir, &text).unwrap_or_else(|e| panic!("daemon: {e}"));
    Lab {
        daemon,
        dir,
        password,
        _target: target,
        _ingresses: ingresses,
        topo,
    }
}

/// The lab with the sample config as it is.
pub fn lab() -> Lab {
    lab_with(|t| t)
}

impl Lab {
    /// `curl -sk` through the floating IP for `host` on 443, from `src`.
    pub fn https(&self, host: &str, path: &str) -> String {
        let resolve = format!("{host}:443:{FLOATING_IP}");
        client_curl(
            &self.topo,
            &[
                "-k",
                "--resolve",
                &resolve,
                &format!("https://{host}{path}"),
            ],
        )
    }

    /// Runs `curl` in the client namespace and returns the whole output
    /// (curl's exit code 28 is a timeout, 7 a refusal).
    pub fn client_curl_raw(&self, args: &[&str]) -> Output {
        let mut cmd = self.topo.client().command("curl");
        cmd.args(["-sS", "--max-time", "3"]).args(args);
        cmd.output().unwrap_or_else(|e| panic!("curl: {e}"))
    }

    /// Runs `parvis ARGS --socket S` in the appliance namespace.
    pub fn cli(&self, args: &[&str]) -> Output {
        let mut cmd = self
            .topo
            .appliance()
            .command(&parvis_exe().to_string_lossy());
        cmd.args(args).arg("--socket").arg(&self.daemon.socket);
        cmd.output()
            .unwrap_or_else(|e| panic!("parvis {args:?}: {e}"))
    }

    /// Writes a config file next to the running one.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        p
    }

    /// Logs in to the admin API from the client through the floating IP;
    /// returns the cookie jar's path and the CSRF token.
    pub fn login(&self, jar_name: &str) -> (String, String) {
        let jar = self.dir.join(jar_name).display().to_string();
        let body = format!(r#"{{"username":"admin","password":"{}"}}"#, self.password);
        let url = format!("https://{FLOATING_IP}:8443/api/v1/session");
        let login = client_curl(
            &self.topo,
            &[
                "-k",
                "-c",
                &jar,
                "-H",
                "Content-Type: application/json",
                "-d",
                &body,
                &url,
            ],
        );
        let v: serde_json::Value =
            serde_json::from_str(&login).unwrap_or_else(|e| panic!("{e}: {login}"));
        let csrf = v["csrf"]
            .as_str()
            .unwrap_or_else(|| panic!("no csrf in {login}"))
            .to_string();
        (jar, csrf)
    }

    /// The sample config text the daemon started with.
    pub fn config_text(&self) -> String {
        std::fs::read_to_string(&self.daemon.config).unwrap_or_else(|e| panic!("read config: {e}"))
    }
}

/// Polls `f` until it is true or `secs` pass.
pub fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    f()
}

/// The first demo host name.
pub fn host_a() -> &'static str {
    DEMO_HOSTS[0]
}

/// The second demo host name.
pub fn host_b() -> &'static str {
    DEMO_HOSTS[1]
}
