//! A running pair in the `lab --ha` topology, for the HA tests and the
//! benchmark: start, roles, VIP owners, faults, and polling with deadlines.
//! Does I/O.

#![allow(dead_code)]

#[path = "../support/mod.rs"]
mod support;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use parvis::lab::appliance::Daemon;
use parvis::lab::echo::Echo;
use parvis::lab::pair::{self, start_backends, start_node};
use parvis::lab::pair_topology::{NODE_NAMES, VIP_INTERNAL, VIP_PUBLIC};
use parvis::lab::{ChildGuard, PairTopology, DEMO_HOSTS, FLOATING_IP};

/// The advertisement interval the tests run with.
pub const ADVERT: Duration = Duration::from_millis(1000);

/// Two nodes, their backends and their daemons; everything goes on drop.
pub struct Pair {
    /// Daemons first: they die before their namespaces.
    pub daemons: [Option<Daemon>; 2],
    pub backends: (Vec<ChildGuard>, Echo),
    pub topo: PairTopology,
    pub dir: tempfile::TempDir,
    pub text: String,
}

/// The `parvis` binary cargo built (`tests/support`'s).
pub fn exe() -> PathBuf {
    support::parvis_exe()
}

/// Panics unless running as root (`tests/support`'s check).
pub fn require_root() {
    support::require_root();
}

/// Polls `cond` every 50 ms until it holds; panics naming `what` after `within`.
pub fn wait_for(what: &str, within: Duration, mut cond: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < within, "{what}: not after {within:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    start.elapsed()
}

impl Pair {
    /// Builds the lab and starts `a` (which becomes MASTER), then `b` (BACKUP).
    pub fn start(advert: Duration) -> Pair {
        require_root();
        let topo = PairTopology::build().expect("pair topology");
        let backends = start_backends(&topo, &exe()).expect("backends");
        // Not under /tmp: keepalived refuses a script whose folders others can write.
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let dir = tempfile::tempdir_in(base).expect("tempdir");
        let text = pair::config(&dir.path().join("state"), advert);
        let mut p = Pair {
            daemons: [None, None],
            backends,
            topo,
            dir,
            text,
        };
        p.start_node(0);
        wait_for("a MASTER", Duration::from_secs(15), || {
            p.role(0) == "MASTER"
        });
        p.start_node(1);
        wait_for("b BACKUP", Duration::from_secs(15), || {
            p.role(1) == "BACKUP"
        });
        p
    }

    /// (Re)starts node `i`'s daemon.
    pub fn start_node(&mut self, i: usize) {
        let d = start_node(&self.topo, i, &exe(), self.dir.path(), &self.text).expect("daemon");
        self.daemons[i] = Some(d);
    }

    pub fn socket(&self, i: usize) -> PathBuf {
        self.dir.path().join(NODE_NAMES[i]).join("control.sock")
    }

    /// `parvis ha status --json` of node `i`, or "DOWN" when it does not answer.
    pub fn status(&self, i: usize) -> Option<serde_json::Value> {
        let out = Command::new(exe())
            .args(["ha", "status", "--json", "--socket"])
            .arg(self.socket(i))
            .output()
            .ok()?;
        serde_json::from_slice(&out.stdout).ok()
    }

    /// Node `i`'s role as its daemon reports it ("DOWN" if it does not answer).
    pub fn role(&self, i: usize) -> String {
        self.status(i)
            .and_then(|v| v.get("role").and_then(|r| r.as_str()).map(str::to_string))
            .unwrap_or_else(|| "DOWN".into())
    }

    /// The daemon's pid of node `i`.
    pub fn pid(&self, i: usize) -> i32 {
        let d = self.daemons[i].as_ref().expect("running");
        i32::try_from(d.child.id()).expect("pid")
    }

    pub fn signal(&self, i: usize, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid(i)), sig).expect("kill");
    }

    /// Which nodes hold `vip` on a link that is up (a dead VM's links are
    /// down) and answer ARP for it: the drain link's copy (a node draining
    /// after a handover, `ha::drain`) answers none and does not count.
    pub fn owners(&self, vip: Ipv4Addr) -> Vec<usize> {
        (0..2)
            .filter(|i| {
                let out = self
                    .topo
                    .node(*i)
                    .ip(&["-4", "-o", "addr", "show", "up"])
                    .expect("ip addr");
                String::from_utf8_lossy(&out.stdout).lines().any(|l| {
                    l.contains(&format!(" {vip}/")) && !l.contains(parvis::ha::drain::LINK)
                })
            })
            .collect()
    }

    /// Both VIPs on exactly node `i` and nowhere else.
    pub fn sole_owner(&self, i: usize) -> bool {
        self.owners(VIP_PUBLIC) == [i] && self.owners(VIP_INTERNAL) == [i]
    }

    /// A fresh TLS request through the floating IP succeeds within 1 s.
    pub fn tls_ok(&self) -> bool {
        let [h, _] = DEMO_HOSTS;
        let resolve = format!("{h}:443:{FLOATING_IP}");
        let url = format!("https://{h}/");
        self.topo
            .client()
            .run(&[
                "curl",
                "-sk",
                "--max-time",
                "1",
                "--resolve",
                &resolve,
                &url,
            ])
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("ingress="))
    }

    /// Takes node `i`'s public link down (the kernel drops its default route).
    pub fn link_down(&self, i: usize) {
        self.topo
            .node(i)
            .ip(&["link", "set", "ens3", "down"])
            .expect("link down");
    }

    /// Brings node `i`'s public link back and puts back the default route
    /// the kernel removed with it, as DHCP on a cloud port would.
    pub fn link_up(&self, i: usize) {
        let n = self.topo.node(i);
        n.ip(&["link", "set", "ens3", "up"]).expect("link up");
        let gw = parvis::lab::ROUTER_PUBLIC.to_string();
        let _ = n.ip(&["route", "replace", "default", "via", &gw]);
    }

    /// The last lines of node `i`'s event log as the daemon reports them.
    pub fn cause(&self, i: usize) -> String {
        self.status(i)
            .and_then(|v| {
                v.pointer("/last/cause")
                    .and_then(|c| c.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_default()
    }
}

/// A TLS connection through the floating IP to the SNI forwarder, held
/// open by a Python client in the client namespace: the handshake is done
/// at once (ClientHello routed, the ingress's TLS answered); the HTTP
/// request goes only when [`HeldTls::finish`] is called.
pub struct HeldTls {
    child: std::process::Child,
    out: std::io::BufReader<std::process::ChildStdout>,
}

const HELD_TLS: &str = r#"
import socket, ssl, sys
host, ip = sys.argv[1], sys.argv[2]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection((ip, 443), timeout=10), server_hostname=host)
print("connected", flush=True)
sys.stdin.readline()
try:
    s.sendall(b"GET / HTTP/1.1\r\nHost: " + host.encode() + b"\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    print("answer " + data.decode(errors="replace").replace("\r\n", " | "), flush=True)
except Exception as e:
    print("error " + repr(e), flush=True)
"#;

impl HeldTls {
    /// Connects and completes the TLS handshake; panics if it fails.
    pub fn open(p: &Pair) -> HeldTls {
        use std::io::BufRead;
        let [host, _] = DEMO_HOSTS;
        let mut child = Command::new("ip")
            .args([
                "netns",
                "exec",
                p.topo.client().name(),
                "python3",
                "-u",
                "-c",
                HELD_TLS,
            ])
            .args([host, &FLOATING_IP.to_string()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        out.read_line(&mut line).expect("read");
        assert_eq!(
            line.trim(),
            "connected",
            "TLS handshake through the floating IP"
        );
        HeldTls { child, out }
    }

    /// Sends the request on the held connection; returns what came back
    /// (`answer ...` or `error ...`).
    pub fn finish(mut self) -> String {
        use std::io::{BufRead, Write};
        let mut stdin = self.child.stdin.take().expect("stdin");
        let _ = stdin.write_all(b"go\n");
        drop(stdin);
        let mut line = String::new();
        let _ = self.out.read_line(&mut line);
        let _ = self.child.wait();
        line.trim().to_string()
    }
}

impl Drop for HeldTls {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `parvis ha handover` on node `i`; panics unless it succeeds; returns its message.
pub fn handover(p: &Pair, i: usize) -> String {
    let out = Command::new(exe())
        .args(["ha", "handover", "--socket"])
        .arg(p.socket(i))
        .output()
        .expect("handover");
    assert!(
        out.status.success(),
        "handover: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Applies `text` on node `i` (`parvis apply --config`); true when it succeeded.
pub fn apply(p: &Pair, i: usize, name: &str, text: &str) -> bool {
    let path = p.dir.path().join(name);
    std::fs::write(&path, text).expect("write config");
    let out = std::process::Command::new(exe())
        .arg("apply")
        .arg("--config")
        .arg(&path)
        .arg("--socket")
        .arg(p.socket(i))
        .output()
        .expect("parvis apply");
    eprintln!(
        "apply on node {i}: {} {}",
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    out.status.success()
}

/// Node `i`'s config version in force and its history's numbers.
pub fn versions(p: &Pair, i: usize) -> (u64, Vec<u64>) {
    let json = |args: &[&str]| -> serde_json::Value {
        let out = std::process::Command::new(exe())
            .args(args)
            .args(["--json", "--socket"])
            .arg(p.socket(i))
            .output()
            .expect("parvis");
        serde_json::from_slice(&out.stdout).unwrap_or_default()
    };
    let running = json(&["status"])["ha"]["config_version"]
        .as_u64()
        .unwrap_or(0);
    let history = json(&["history"])
        .as_array()
        .map(|h| h.iter().filter_map(|e| e["version"].as_u64()).collect())
        .unwrap_or_default();
    (running, history)
}

/// The pair's config with one more forward (its port shows in the ruleset).
pub fn with_forward(p: &Pair, port: u16) -> String {
    format!(
        "{}\n[[forward]]\nproto = \"tcp\"\nport = {port}\nto = \"{}:{port}\"\n",
        p.text,
        parvis::lab::SERVER
    )
}
