//! A minimal three-namespace topology for the firewall tests, removed on drop
//! (even after a panic): client — appliance — server.
//!
//! ```text
//! client  c0 198.51.100.10/24, .11/24, 203.0.113.5/24 (default dev c0)
//!    | veth
//! appliance  pub0 192.168.10.5/24 (routes 198.51.100.0/24, 203.0.113.0/24 dev pub0)
//!            int0 10.0.0.1/24
//!    | veth
//! server  s0 10.0.0.20/24 (default via 10.0.0.1)
//! ```
//! IPv6 is off in client and server so no stray ND/MLD packet moves a counter.
//! The namespaces are the lab's (`parvis::lab::Ns`: named `pv-<pid>-…`,
//! every process inside killed and the namespace deleted on drop, swept
//! if the test process dies); the root check is `tests/support`'s.

#![allow(dead_code)]

#[path = "../support/mod.rs"]
mod support;

use parvis::lab::Ns;

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The parvis binary under test.
pub const PARVIS: &str = env!("CARGO_BIN_EXE_parvis");
/// The appliance's public address.
pub const PUBLIC: &str = "192.168.10.5";

/// The namespaces, their background processes and a scratch folder.
pub struct Topo {
    pub client: String,
    pub appliance: String,
    pub server: String,
    children: Vec<Child>,
    pub dir: tempfile::TempDir,
    /// The namespaces themselves, deleted on drop (after the children).
    namespaces: Vec<Ns>,
}

/// Runs a command, returning its output; panics only if it cannot start.
pub fn run(args: &[&str]) -> Output {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"))
}

fn must(args: &[&str]) {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Panics unless running as root (the tests need namespaces and nft).
pub fn require_root() {
    support::require_root();
}

impl Topo {
    /// Builds the three namespaces; `tag` keeps parallel tests apart.
    pub fn new(tag: &str) -> Topo {
        require_root();
        let pid = std::process::id();
        let name = |role: &str| format!("pv-{pid}-{tag}-{role}");
        let mut t = Topo {
            client: name("c"),
            appliance: name("a"),
            server: name("s"),
            children: Vec::new(),
            dir: tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")),
            namespaces: Vec::new(),
        };
        for ns in [name("c"), name("a"), name("s")] {
            let made = Ns::create(&ns).unwrap_or_else(|e| panic!("namespace {ns}: {e}"));
            t.namespaces.push(made);
        }
        for ns in [&t.client, &t.server] {
            for key in ["all", "default"] {
                let k = format!("net.ipv6.conf.{key}.disable_ipv6=1");
                must(&["ip", "netns", "exec", ns, "sysctl", "-qw", &k]);
            }
        }
        let (c, a, s) = (t.client.as_str(), t.appliance.as_str(), t.server.as_str());
        must(&[
            "ip", "-n", c, "link", "add", "c0", "type", "veth", "peer", "name", "pub0", "netns", a,
        ]);
        must(&[
            "ip", "-n", s, "link", "add", "s0", "type", "veth", "peer", "name", "int0", "netns", a,
        ]);
        for addr in ["198.51.100.10/24", "198.51.100.11/24", "203.0.113.5/24"] {
            must(&["ip", "-n", c, "addr", "add", addr, "dev", "c0"]);
        }
        must(&[
            "ip",
            "-n",
            a,
            "addr",
            "add",
            "192.168.10.5/24",
            "dev",
            "pub0",
        ]);
        must(&["ip", "-n", a, "addr", "add", "10.0.0.1/24", "dev", "int0"]);
        must(&["ip", "-n", s, "addr", "add", "10.0.0.20/24", "dev", "s0"]);
        for (ns, dev) in [(c, "c0"), (a, "pub0"), (a, "int0"), (s, "s0")] {
            must(&["ip", "-n", ns, "link", "set", dev, "up"]);
        }
        must(&["ip", "-n", c, "route", "add", "default", "dev", "c0"]);
        must(&[
            "ip",
            "-n",
            a,
            "route",
            "add",
            "198.51.100.0/24",
            "dev",
            "pub0",
        ]);
        must(&[
            "ip",
            "-n",
            a,
            "route",
            "add",
            "203.0.113.0/24",
            "dev",
            "pub0",
        ]);
        must(&["ip", "-n", s, "route", "add", "default", "via", "10.0.0.1"]);
        t
    }

    /// Runs `args` inside namespace `ns`.
    pub fn exec(&self, ns: &str, args: &[&str]) -> Output {
        let mut full = vec!["ip", "netns", "exec", ns];
        full.extend_from_slice(args);
        run(&full)
    }

    /// Starts a background process in `ns`, killed when the topology drops.
    pub fn spawn(&mut self, ns: &str, args: &[&str]) {
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {args:?}: {e}"));
        self.children.push(child);
    }

    /// Starts a process in `ns` with piped stdin/stdout, owned by the caller.
    pub fn spawn_piped(&self, ns: &str, args: &[&str]) -> Child {
        Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {args:?}: {e}"))
    }

    /// A TCP server in `ns` on `port` that answers each connection with
    /// the peer's address (what the server sees as the client).
    pub fn tell_peer_tcp(&mut self, ns: &str, port: u16) {
        let listen = format!("TCP-LISTEN:{port},fork,reuseaddr");
        self.spawn(ns, &["socat", &listen, "SYSTEM:echo $SOCAT_PEERADDR"]);
        self.wait_listen(ns, port, "-Hltn");
    }

    /// The same for UDP.
    pub fn tell_peer_udp(&mut self, ns: &str, port: u16) {
        let listen = format!("UDP-RECVFROM:{port},fork,reuseaddr");
        self.spawn(ns, &["socat", &listen, "SYSTEM:echo $SOCAT_PEERADDR"]);
        self.wait_listen(ns, port, "-Hlun");
    }

    /// A TCP echo server (`cat`) in `ns` on `port`.
    pub fn echo_tcp(&mut self, ns: &str, port: u16) {
        let listen = format!("TCP-LISTEN:{port},fork,reuseaddr");
        self.spawn(ns, &["socat", &listen, "EXEC:cat"]);
        self.wait_listen(ns, port, "-Hltn");
    }

    /// A TCP server in `ns` that holds every connection open for a minute.
    pub fn hold_tcp(&mut self, ns: &str, port: u16) {
        let listen = format!("TCP-LISTEN:{port},fork,reuseaddr");
        self.spawn(ns, &["socat", &listen, "SYSTEM:sleep 60"]);
        self.wait_listen(ns, port, "-Hltn");
    }

    fn wait_listen(&self, ns: &str, port: u16, flags: &str) {
        let deadline = Instant::now() + Duration::from_secs(5);
        let filter = format!("sport = :{port}");
        while Instant::now() < deadline {
            let out = self.exec(ns, &["ss", flags, &filter]);
            if !out.stdout.is_empty() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("nothing listens on {port} in {ns}");
    }

    /// Writes a config file into the scratch folder.
    pub fn config(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        let mut f = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        f.write_all(text.as_bytes())
            .unwrap_or_else(|e| panic!("{path:?}: {e}"));
        path
    }

    /// `parvis firewall ARGS` inside the appliance namespace.
    pub fn parvis(&self, args: &[&str]) -> Output {
        let mut full = vec![PARVIS, "firewall"];
        full.extend_from_slice(args);
        self.exec(&self.appliance, &full)
    }

    /// Applies a config in the appliance; panics if that fails.
    pub fn apply(&self, text: &str) {
        let path = self.config("parvis.toml", text);
        let out = self.parvis(&["apply", "--config", &path.to_string_lossy()]);
        assert!(
            out.status.success(),
            "apply failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `nft list table inet parvis` in the appliance.
    pub fn table_text(&self) -> String {
        let out = self.exec(&self.appliance, &["nft", "list", "table", "inet", "parvis"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// One TCP exchange from the client: connect from `src` to `dst:port`,
    /// send `line` (nothing if empty: a server that answers without reading
    /// would reset the connection and the answer could be lost), return what came back (`Err` with socat's message if the
    /// connection failed).
    pub fn tcp(&self, src: &str, dst: &str, port: u16, line: &str) -> Result<String, String> {
        let target = format!("TCP:{dst}:{port},bind={src},connect-timeout=1.5");
        self.socat(&target, line)
    }

    /// One UDP exchange from the client (three tries: UDP may lose a datagram).
    pub fn udp(&self, src: &str, dst: &str, port: u16, line: &str) -> Result<String, String> {
        let target = format!("UDP:{dst}:{port},bind={src}");
        let mut last = Err(String::new());
        for _ in 0..3 {
            last = self.socat(&target, line);
            if last.is_ok() {
                break;
            }
        }
        last
    }

    fn socat(&self, target: &str, line: &str) -> Result<String, String> {
        let mut child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.client,
                "socat",
                "-t3",
                "-T3",
                "-",
                target,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        if let Some(mut stdin) = child.stdin.take() {
            if !line.is_empty() {
                let _ = writeln!(stdin, "{line}");
            }
        }
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if out.status.success() && !text.is_empty() {
            Ok(text)
        } else {
            Err(format!("{text}{}", String::from_utf8_lossy(&out.stderr)))
        }
    }

    /// Runs a Python snippet in the client namespace, returning stdout.
    pub fn python(&self, script: &str, args: &[&str]) -> String {
        let mut full = vec!["python3", "-c", script];
        full.extend_from_slice(args);
        let out = self.exec(&self.client, &full);
        assert!(
            out.status.success(),
            "python: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Topo {
    fn drop(&mut self) {
        // Each server leads its own process group: end it with the
        // children it forked per connection.
        for child in &mut self.children {
            let _ = run(&["kill", "-TERM", "--", &format!("-{}", child.id())]);
            let _ = child.wait();
        }
        // The namespaces go with `self.namespaces`.
    }
}
