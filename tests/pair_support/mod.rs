//! Two real `parvis serve` daemons, nodes `a` (10.0.0.2) and `b`
//! (10.0.0.3) of one `[ha]` pair, in the lab's pair topology
//! (`parvis::lab::PairTopology`, built by the lab builder), and an
//! intruder host (10.0.0.9) the lab attaches to the same network. Each
//! daemon has its own config file, state folder and control socket
//! (started by `parvis::lab::Serve`); no `[interfaces]`, so each finds
//! itself by the addresses already on its links. Does I/O (namespaces,
//! processes).
#![allow(dead_code)]

use std::ops::Index;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use parvis::lab::pair_topology::INTERNAL_PORT;
use parvis::lab::{ChildGuard, Ns, PairTopology, Serve};
use serde_json::Value;

#[path = "../support/mod.rs"]
mod support;
pub use support::*;

/// The pair's key in the tests.
pub const KEY: &str = "0123456789abcdef-pair-test-key";
/// The addresses: node a, node b, the intruder.
pub const ADDR: [&str; 3] = ["10.0.0.2", "10.0.0.3", "10.0.0.9"];

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// One running node.
pub struct Node {
    /// The daemon (killed on drop).
    pub child: Option<ChildGuard>,
    /// Its control socket.
    pub socket: PathBuf,
    /// Its state folder.
    pub state: PathBuf,
    /// The config file it reads.
    pub config: PathBuf,
}

/// The pair's network and daemons; everything goes on drop.
pub struct Pair {
    pub nodes: [Node; 2],
    pub dir: PathBuf,
    // The lab last: dropped after the daemons.
    pub ns: Hosts,
}

/// The hosts by index: 0 → node `a`, 1 → node `b`, 2 → the intruder.
pub struct Hosts {
    // Before the lab: its link is on the lab's bridge.
    intruder: Ns,
    lab: PairTopology,
}

impl Index<usize> for Hosts {
    type Output = Ns;

    fn index(&self, i: usize) -> &Ns {
        match i {
            0 | 1 => self.lab.node(i),
            _ => &self.intruder,
        }
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            n.child.take();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The config both nodes read; `extra` is appended (forwards...).
pub fn config(dir: &Path, key: &str, extra: &str) -> String {
    format!(
        r#"[appliance]
name = "pair"
state_dir = "{state}"

[admin]
listen = "127.0.0.1:8443"
allow = ["127.0.0.1"]

[metrics]
listen = "127.0.0.1:9108"

[[forward]]
proto = "tcp"
port = 2222
to = "10.0.0.20:22"

[ha]
vrid = 51
vip_public = "192.168.10.4/24"
vip_internal = "10.0.0.1/24"
key = "{key}"

[[ha.node]]
name = "a"
address = "10.0.0.2"
priority = 200

[[ha.node]]
name = "b"
address = "10.0.0.3"
priority = 100
{extra}"#,
        state = dir.join("unused-state").display(),
    )
}

/// A forward on `port`, to append to the config.
pub fn forward(port: u16) -> String {
    format!("\n[[forward]]\nproto = \"tcp\"\nport = {port}\nto = \"10.0.0.20:80\"\n")
}

/// Builds the network and starts both daemons with the pair's key.
pub fn pair() -> Pair {
    pair_with_keys(KEY, KEY)
}

/// Builds the network and starts node a with `key_a`, node b with `key_b`.
pub fn pair_with_keys(key_a: &str, key_b: &str) -> Pair {
    require_root();
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let lab = PairTopology::build().unwrap_or_else(|e| panic!("pair topology: {e}"));
    let intruder = lab
        .attach_internal("x", ADDR[2].parse().expect("address"))
        .unwrap_or_else(|e| panic!("intruder: {e}"));
    let ns = Hosts { intruder, lab };
    let dir = std::env::temp_dir().join(format!("pv-pair-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let nodes = [(0, key_a), (1, key_b)].map(|(i, key)| {
        let config = dir.join(format!("node{i}.toml"));
        std::fs::write(&config, config_text(&dir, key)).expect("config");
        let mut node = Node {
            child: None,
            socket: dir.join(format!("node{i}.sock")),
            state: dir.join(format!("state{i}")),
            config,
        };
        start(&ns[i], &mut node);
        node
    });
    Pair { nodes, dir, ns }
}

fn config_text(dir: &Path, key: &str) -> String {
    config(dir, key, "")
}

/// Starts (or restarts) a node's daemon and waits for its control socket.
pub fn start(ns: &Ns, node: &mut Node) {
    let serve = Serve {
        config: node.config.clone(),
        socket: node.socket.clone(),
        state_dir: Some(node.state.clone()),
        log: None,
        debug: false,
    };
    let daemon = serve
        .start(ns, &parvis_exe())
        .unwrap_or_else(|e| panic!("daemon: {e}"));
    node.child = Some(daemon.child);
}

impl Pair {
    /// `parvis ARGS --socket S` for node `i`, in its namespace.
    pub fn cli(&self, i: usize, args: &[&str]) -> Output {
        let mut cmd = self.ns[i].command(&parvis_exe().to_string_lossy());
        cmd.args(args).arg("--socket").arg(&self.nodes[i].socket);
        cmd.output().expect("parvis")
    }

    /// `parvis ARGS --json` for node `i`, parsed.
    pub fn json(&self, i: usize, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.cli(i, &all);
        assert!(out.status.success(), "parvis {args:?} on node {i}: {out:?}");
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"))
    }

    /// Node `i`'s history as (version, state) pairs.
    pub fn history(&self, i: usize) -> Vec<(u64, String)> {
        let v = self.json(i, &["history"]);
        v.as_array()
            .unwrap_or_else(|| panic!("history is not a list: {v}"))
            .iter()
            .map(|e| {
                (
                    e["version"].as_u64().unwrap_or(0),
                    e["state"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    /// Node `i`'s `status.ha`.
    pub fn ha(&self, i: usize) -> Value {
        self.json(i, &["status"])["ha"].clone()
    }

    /// Node `i`'s running config version and pending version.
    pub fn running(&self, i: usize) -> (u64, Option<u64>) {
        let s = self.json(i, &["status"]);
        (
            s["ha"]["config_version"].as_u64().unwrap_or(0),
            s["pending"]["version"].as_u64(),
        )
    }

    /// Writes a config (the pair's, with `extra`) and applies it on node `i`.
    pub fn apply(&self, i: usize, name: &str, extra: &str, more: &[&str]) -> (Output, Duration) {
        let path = self.dir.join(name);
        std::fs::write(&path, config(&self.dir, KEY, extra)).expect("write");
        let p = path.to_string_lossy().into_owned();
        let mut args = vec!["apply", "--config", p.as_str()];
        args.extend_from_slice(more);
        let started = Instant::now();
        let out = self.cli(i, &args);
        (out, started.elapsed())
    }

    /// The nftables table in node `i`'s namespace.
    pub fn nft(&self, i: usize) -> String {
        let out = self.ns[i]
            .run(&["nft", "list", "table", "inet", "parvis"])
            .expect("nft");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Stops node `i`'s daemon (SIGKILL, by its PID).
    pub fn kill(&mut self, i: usize) {
        self.nodes[i].child.take();
    }

    /// Starts node `i`'s daemon again.
    pub fn restart(&mut self, i: usize) {
        let ns = &self.ns[i];
        start(ns, &mut self.nodes[i]);
    }

    /// Takes node `i`'s internal link down or up (a partition).
    pub fn link(&self, i: usize, up: bool) {
        let state = if up { "up" } else { "down" };
        if let Err(e) = self.ns[i].ip(&["link", "set", INTERNAL_PORT, state]) {
            panic!("link {state} on node {i}: {e}");
        }
    }
}

/// Polls `f` every 100 ms until true or `secs` pass; returns how long it took.
pub fn within(secs: u64, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(secs) {
        if f() {
            return Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    f().then(|| started.elapsed())
}
