//! A small namespace topology for the forwarder tests: client (198.51.100.10, .11) — appliance (198.51.100.1, 192.168.10.5 |
//! 10.0.0.1) — ingress (10.0.0.11, 10.0.0.12), with HAProxy `accept-proxy`
//! backends that answer with what the PROXY header told them. Everything is
//! removed on drop, even after a panic: the namespaces are the lab's
//! (`parvis::lab::Ns`, swept if the test process dies), the root check is
//! `tests/support`'s.

#![allow(dead_code)]

#[path = "../support/mod.rs"]
mod support;

use parvis::lab::Ns;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
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

/// The namespaces, the temp folder and the processes started in them.
pub struct Topo {
    pub client: String,
    pub appliance: String,
    pub ingress: String,
    pub dir: tempfile::TempDir,
    children: Vec<(String, Child)>,
    /// The namespaces themselves, deleted on drop (after the children).
    namespaces: Vec<Ns>,
}

impl Topo {
    pub fn new() -> Topo {
        support::require_root();
        let pid = std::process::id();
        let [c, a, i] = ["c", "a", "i"].map(|s| format!("pv-{pid}-{s}"));
        let mut topo = Topo {
            client: c.clone(),
            appliance: a.clone(),
            ingress: i.clone(),
            dir: tempfile::tempdir().expect("tempdir"),
            children: Vec::new(),
            namespaces: Vec::new(),
        };
        for ns in [&c, &a, &i] {
            let made = Ns::create(ns).unwrap_or_else(|e| panic!("namespace {ns}: {e}"));
            topo.namespaces.push(made);
        }
        sh(&[
            "ip", "link", "add", "pvc0", "netns", &c, "type", "veth", "peer", "pva0", "netns", &a,
        ]);
        sh(&[
            "ip", "link", "add", "pva1", "netns", &a, "type", "veth", "peer", "pvi0", "netns", &i,
        ]);
        for (ns, dev, addrs) in [
            (&c, "pvc0", &["198.51.100.10/24", "198.51.100.11/24"][..]),
            (&a, "pva0", &["198.51.100.1/24", "192.168.10.5/24"][..]),
            (&a, "pva1", &["10.0.0.1/24"][..]),
            (&i, "pvi0", &["10.0.0.11/24", "10.0.0.12/24"][..]),
        ] {
            for addr in addrs {
                sh(&["ip", "-n", ns, "addr", "add", addr, "dev", dev]);
            }
            sh(&["ip", "-n", ns, "link", "set", dev, "up"]);
        }
        sh(&[
            "ip",
            "-n",
            &c,
            "route",
            "add",
            "192.168.10.0/24",
            "via",
            "198.51.100.1",
        ]);
        topo
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts a program in a namespace, stdout+stderr to `<tag>.log`.
    pub fn spawn(&mut self, tag: &str, ns: &str, args: &[&str]) {
        let log = std::fs::File::create(self.path(&format!("{tag}.log"))).expect("log");
        let err = log.try_clone().expect("log");
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        self.children.push((tag.to_string(), child));
    }

    /// Stops a process started with [`spawn`](Self::spawn), by its PID.
    pub fn kill(&mut self, tag: &str, signal: &str) {
        if let Some(pos) = self.children.iter().position(|(t, _)| t == tag) {
            let (_, mut child) = self.children.remove(pos);
            let _ = Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status();
            let _ = child.wait();
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
    /// `parvis serve` (tag `parvis`) in the appliance, its control socket
    /// at `control.sock`; waits until 192.168.10.5:443 answers.
    pub fn serve(&mut self, config: &str) {
        let (cfg, socket) = (self.path("parvis.toml"), self.path("control.sock"));
        std::fs::write(&cfg, config).unwrap_or_else(|e| panic!("{}: {e}", cfg.display()));
        let ns = self.appliance.clone();
        self.spawn(
            "parvis",
            &ns,
            &[
                env!("CARGO_BIN_EXE_parvis"),
                "serve",
                "--config",
                &cfg.display().to_string(),
                "--socket",
                &socket.display().to_string(),
            ],
        );
        self.wait_port(&ns, "192.168.10.5", 443);
    }

    /// Two HAProxy ingress nodes (10.0.0.11 and 10.0.0.12) with accept-proxy.
    pub fn start_ingress(&mut self) {
        let pem = self.path("ingress.pem");
        let key = self.path("k.pem");
        let crt = self.path("c.pem");
        sh(&[
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=ingress",
            "-addext",
            "subjectAltName=DNS:*.example.org",
            "-keyout",
            key.to_str().unwrap_or_default(),
            "-out",
            crt.to_str().unwrap_or_default(),
        ]);
        let both = [
            std::fs::read(&crt).expect("crt"),
            std::fs::read(&key).expect("key"),
        ]
        .concat();
        std::fs::write(&pem, both).expect("pem");
        for (tag, ip) in [("ingress1", "10.0.0.11"), ("ingress2", "10.0.0.12")] {
            let cfg = haproxy_config(tag, ip, &pem);
            let file = self.path(&format!("{tag}.cfg"));
            std::fs::write(&file, cfg).expect("cfg");
            let ns = self.ingress.clone();
            self.spawn(
                tag,
                &ns,
                &["haproxy", "-db", "-f", file.to_str().unwrap_or_default()],
            );
            self.wait_port(&ns, ip, 443);
        }
    }
}

fn haproxy_config(tag: &str, ip: &str, pem: &Path) -> String {
    format!(
        r#"global
  maxconn 2000
defaults
  mode http
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend tls
  bind {ip}:443 accept-proxy ssl crt {pem}
  http-request return status 200 content-type text/plain lf-string "srv={tag} ci=%[src] sni=%[ssl_fc_sni] auth=%[fc_pp_authority]\n"
frontend plain
  bind {ip}:80 accept-proxy
  http-request return status 200 content-type text/plain lf-string "srv={tag} ci=%[src] host=%[req.hdr(host)]\n"
frontend tlvs
  bind {ip}:8443 accept-proxy ssl crt {pem}
  http-request return status 200 content-type text/plain lf-string "srv={tag} ci=%[src] uid=%[fc_pp_unique_id] auth=%[fc_pp_authority]\n"
"#,
        pem = pem.display()
    )
}

impl Drop for Topo {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait();
        }
        // The namespaces go with `self.namespaces`.
    }
}
