//! The firewall tests' view of the lab (`parvis::lab::Topology`, built
//! by the lab builder): the client on the "internet" with one more source
//! in a block list's range (203.0.113.5), the router, the appliance
//! (`ens3` 192.168.10.5, `ens4` 10.0.0.1) and the server (10.0.0.20), IPv6
//! quiet everywhere but the appliance so no stray ND/MLD packet moves a
//! counter. The lab removes every namespace on drop (and sweeps those of
//! a killed test); this file only adds the suite's servers, clients and
//! `parvis firewall` calls. The root check is `tests/support`'s.

#![allow(dead_code)]

#[path = "../support/mod.rs"]
mod support;

use parvis::lab::{Options, Topology};

use std::io::Write;
use std::net::Ipv4Addr;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The parvis binary under test.
pub const PARVIS: &str = env!("CARGO_BIN_EXE_parvis");
/// The appliance's public address.
pub const PUBLIC: &str = "192.168.10.5";
/// The client's source in the tests' block lists (203.0.113.0/28).
pub const BLOCKED: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 5);

/// The lab, the names of the namespaces the tests use, their background
/// processes and a scratch folder.
pub struct Topo {
    pub client: String,
    pub appliance: String,
    pub server: String,
    children: Vec<Child>,
    pub dir: tempfile::TempDir,
    /// The lab itself, deleted on drop (after the children).
    pub lab: Topology,
}

/// Runs a command, returning its output; panics only if it cannot start.
pub fn run(args: &[&str]) -> Output {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"))
}

/// Panics unless running as root (the tests need namespaces and nft).
pub fn require_root() {
    support::require_root();
}

impl Topo {
    /// Builds the lab for one test; `_tag` names the test in its callers.
    pub fn new(_tag: &str) -> Topo {
        let lab = support::topology_with(Options {
            client_extra: &[BLOCKED],
            quiet_ipv6: true,
            ..Options::default()
        });
        Topo {
            client: lab.client().name().to_owned(),
            appliance: lab.appliance().name().to_owned(),
            server: lab.server().name().to_owned(),
            children: Vec::new(),
            dir: tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")),
            lab,
        }
    }

    /// The appliance's public port's name (`ens3`).
    pub fn public_port(&self) -> &str {
        self.lab.public_port().name
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
        // The namespaces go with `self.lab`.
    }
}

/// A config with `allow` in `admin.allow`, a block list of one inline
/// prefix and the file `file`, `limits` (extra lines of `[limits]`), and a
/// masqueraded forward to the server's SSH for each port of `forwards`.
pub fn block_list_config(allow: &str, file: &str, forwards: &[u16], limits: &str) -> String {
    let mut t = format!(
        "[admin]\nlisten = \"0.0.0.0:8443\"\nallow = [\"{allow}/32\"]\n\n[limits]\n{limits}block = [\"192.0.2.66\"]\nblock_file = \"{file}\"\n"
    );
    for p in forwards {
        t.push_str(&format!(
            "\n[[forward]]\nport = {p}\nto = \"10.0.0.20:22\"\nmasquerade = true\n"
        ));
    }
    t
}

/// The blocked prefixes as `parvis firewall blocked` reads them back
/// from the kernel, sorted.
pub fn blocked(t: &Topo) -> Vec<String> {
    let out = t.parvis(&["blocked"]);
    assert!(out.status.success(), "{out:?}");
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}
