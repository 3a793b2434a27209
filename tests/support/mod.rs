//! Shared harness for the integration tests: root check, topology, demo
//! ingresses, and running clients inside namespaces.
//!
//! Does I/O: namespaces and processes (through `parvis::lab`).
#![allow(dead_code)] // each test binary uses its own subset

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use parvis::demo::ProxyMode;
use parvis::lab::{self, DemoHandles, Ns, Options, Topology};

/// Panics with a clear message unless running as root.
pub fn require_root() {
    use std::os::unix::fs::MetadataExt;
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    assert!(
        root,
        "these integration tests build network namespaces and need root: \
         run them as root (e.g. `sudo -E cargo test --test lab`)"
    );
}

/// A default topology (appliance configured, `ens3` public).
pub fn topology() -> Topology {
    topology_with(Options::default())
}

/// A topology with the given options.
pub fn topology_with(opts: Options) -> Topology {
    require_root();
    match Topology::build(opts) {
        Ok(t) => t,
        Err(e) => panic!("cannot build the lab topology: {e}"),
    }
}

/// The `parvis` binary cargo built for these tests.
pub fn parvis_exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_parvis"))
}

/// Starts the demo ingress in both ingress namespaces (TLS :443, HTTP :80)
/// and waits until both ports answer from the appliance.
pub fn start_ingresses(topo: &Topology, proxy: ProxyMode) -> DemoHandles {
    let handles = match lab::start_ingresses(topo, &parvis_exe(), proxy) {
        Ok(h) => h,
        Err(e) => panic!("cannot start the demo ingresses: {e}"),
    };
    for addr in lab::INGRESS {
        wait_tcp(topo.appliance(), addr, 443);
        wait_tcp(topo.appliance(), addr, 80);
    }
    handles
}

/// Waits (up to 10 s) until a TCP connection from `from` to `addr:port`
/// succeeds. The connection is closed without sending anything.
pub fn wait_tcp(from: &Ns, addr: Ipv4Addr, port: u16) {
    let target = format!("TCP:{addr}:{port},connect-timeout=1");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match from.run(&["socat", "-u", "OPEN:/dev/null", &target]) {
            Ok(_) => return,
            Err(e) if Instant::now() > deadline => {
                panic!("{addr}:{port} never answered from {}: {e}", from.name())
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Runs `curl -sS --max-time 10 ARGS` inside `ns` and returns its stdout;
/// panics with curl's stderr if it fails.
pub fn curl(ns: &Ns, args: &[&str]) -> String {
    let mut full = vec!["curl", "-sS", "--max-time", "10"];
    full.extend_from_slice(args);
    match ns.run(&full) {
        Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned(),
        Err(e) => panic!("curl in {} failed: {e}", ns.name()),
    }
}

/// [`curl`] from the client on the "internet".
pub fn client_curl(topo: &Topology, args: &[&str]) -> String {
    curl(topo.client(), args)
}

/// Runs `args` inside `ns` with `input` on stdin; returns stdout.
pub fn run_with_input(ns: &Ns, args: &[&str], input: &[u8]) -> String {
    match ns.run_with_input(args, input) {
        Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned(),
        Err(e) => panic!("{args:?} in {} failed: {e}", ns.name()),
    }
}

/// Names of the network namespaces that exist right now.
pub fn namespaces() -> Vec<String> {
    let out = match std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
    {
        Ok(o) => o,
        Err(e) => panic!("ip netns list: {e}"),
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}
