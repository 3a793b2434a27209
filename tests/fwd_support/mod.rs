//! The forwarder suites' view of the lab (`parvis::lab::Topology`, built
//! by the lab builder): client (198.51.100.10, .11) — router — appliance
//! (192.168.10.5 | 10.0.0.1) — ingress1 (10.0.0.11) and ingress2
//! (10.0.0.12), with the lab's reporting HAProxy peers
//! (`parvis::lab::reporter`: `accept-proxy` frontends that answer with
//! what the PROXY header told them) and `parvis serve` started by
//! `parvis::lab::Serve`. The lab removes everything on drop, even after a
//! panic; this file only keeps the suite's processes by tag and its logs.
//! The root check is `tests/support`'s.

#![allow(dead_code)]

#[path = "../support/mod.rs"]
mod support;

use parvis::lab::{reporter, ChildGuard, Options, Serve, Topology};

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs a command, panicking with its stderr if it fails.
pub fn sh(args: &[&str]) -> Output {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The lab, the names of the namespaces the tests use, the temp folder and
/// the processes started in them (by tag).
pub struct Topo {
    pub client: String,
    pub appliance: String,
    pub dir: tempfile::TempDir,
    children: Vec<(String, ChildGuard)>,
    /// The lab itself, deleted on drop (after the children).
    pub lab: Topology,
}

impl Topo {
    pub fn new() -> Topo {
        let lab = support::topology_with(Options::default());
        Topo {
            client: lab.client().name().to_owned(),
            appliance: lab.appliance().name().to_owned(),
            dir: tempfile::tempdir().expect("tempdir"),
            children: Vec::new(),
            lab,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts a program in a namespace, stdout+stderr to `<tag>.log`.
    pub fn spawn(&mut self, tag: &str, ns: &str, args: &[&str]) {
        let log = std::fs::File::create(self.path(&format!("{tag}.log"))).expect("log");
        let err = log.try_clone().expect("log");
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns])
            .args(args)
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err));
        let child = ChildGuard::spawn(cmd).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        self.children.push((tag.to_string(), child));
    }

    /// Stops a process started here, by its PID: `signal`, then the
    /// guard's SIGKILL and reaping.
    pub fn kill(&mut self, tag: &str, signal: &str) {
        if let Some(pos) = self.children.iter().position(|(t, _)| t == tag) {
            let (_, child) = self.children.remove(pos);
            let _ = Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status();
        }
    }

    /// Sends a signal without forgetting the process.
    pub fn signal(&self, tag: &str, signal: &str) {
        if let Some((_, child)) = self.children.iter().find(|(t, _)| t == tag) {
            sh(&["kill", signal, &child.id().to_string()]);
        }
    }

    pub fn log(&self, tag: &str) -> String {
        std::fs::read_to_string(self.path(&format!("{tag}.log"))).unwrap_or_default()
    }

    /// Runs a command in a namespace and returns its output.
    pub fn run(&self, ns: &str, args: &[&str]) -> Output {
        Command::new("timeout")
            .args(["20", "ip", "netns", "exec", ns])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    /// Waits until `addr` accepts TCP from inside `ns`.
    pub fn wait_port(&self, ns: &str, host: &str, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let probe =
                format!("import socket; socket.create_connection(('{host}', {port}), 0.5).close()");
            if self.run(ns, &["python3", "-c", &probe]).status.success() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{host}:{port} never opened in {ns}");
    }

    /// Writes `config` as `parvis.toml` in the temp folder and runs
    /// `parvis serve` (tag `parvis`, log `parvis.log`) in the appliance, its
    /// control socket at `control.sock`; waits until 192.168.10.5:443 answers.
    pub fn serve(&mut self, config: &str) {
        let serve = Serve {
            config: parvis::lab::write_config(self.dir.path(), config).expect("config"),
            socket: self.path("control.sock"),
            state_dir: None,
            log: Some(self.path("parvis.log")),
            debug: false,
        };
        let exe = PathBuf::from(env!("CARGO_BIN_EXE_parvis"));
        let daemon = serve
            .start(self.lab.appliance(), &exe)
            .unwrap_or_else(|e| panic!("parvis serve: {e}\n{}", self.log("parvis")));
        self.children.push(("parvis".into(), daemon.child));
        let ns = self.appliance.clone();
        self.wait_port(&ns, "192.168.10.5", 443);
    }

    /// The lab's reporting HAProxy on both ingress nodes (tags `ingress1`
    /// at 10.0.0.11 and `ingress2` at 10.0.0.12), logs in the temp folder.
    pub fn start_ingress(&mut self) {
        let peers = reporter::start_reporters(&self.lab, self.dir.path())
            .unwrap_or_else(|e| panic!("HAProxy peers: {e}"));
        self.children.extend(peers);
    }
}
