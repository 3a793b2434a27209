//! The pair's side of the lab: its shared config, the demo ingresses,
//! forward target and TCP echo (for either layout), and starting node `a`
//! or `b` (one config, each with its own `--state-dir` and control socket).
//! Used by `parvis lab --ha`, the HA tests and `make ha-bench`. Does I/O,
//! except the config text (pure).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::appliance::{forward, ingress_backends, listeners, start_forward_target, FORWARD_PORT};
use super::demos::start_ingresses;
use super::echo::{start_echo, Echo};
use super::pair_topology::*;
use super::serve::{write_config, Daemon, Serve};
use super::{ChildGuard, LabError, Topology, DEMO_HOSTS, FLOATING_IP, ROUTER_PUBLIC, SERVER};
use crate::demo::ProxyMode;

/// The forwarded port of the TCP echo on the server (held connections).
pub const ECHO_PORT: u16 = 7000;

/// The pair's shared config: both VIPs, the two nodes, listeners bound to
/// the public VIP, a forward to the server (SNAT to the internal VIP).
pub fn config(state_dir: &Path, advert: Duration) -> String {
    config_bound(state_dir, advert, VIP_PUBLIC)
}

/// [`config`] with the listeners bound to `bind` (the "neutron" mode binds
/// every address: traffic arrives at a node's own address).
pub(super) fn config_bound(state_dir: &Path, advert: Duration, bind: Ipv4Addr) -> String {
    let [na, nb] = NODE_INTERNAL;
    let [ha, hb] = DEMO_HOSTS;
    format!(
        r#"# parvis lab --ha: one config for both nodes
[appliance]
name = "lab-pair"
state_dir = "{state}"

[admin]
listen = "0.0.0.0:8443"
allow = ["198.51.100.0/24"]

[limits]
conn_rate = "20000/second"
conn_burst = 20000
conn_max = 20000
ban = "0s"

[ha]
vrid = 51
vip_public = "{VIP_PUBLIC}/24"
vip_internal = "{VIP_INTERNAL}/24"
advert = "{advert}ms"
key = "lab-pair-shared-key-0123456789abcdef"

[[ha.node]]
name = "a"
address = "{na}"
priority = 200

[[ha.node]]
name = "b"
address = "{nb}"
priority = 100

{listeners}
[[route]]
listener = "https"
hosts = ["{ha}", "{hb}"]
backend = "ingress-all"

{backends}{fwd}{echo}"#,
        state = state_dir.display(),
        advert = advert.as_millis(),
        listeners = listeners(bind),
        backends = ingress_backends(false),
        fwd = forward(FORWARD_PORT, true),
        echo = forward(ECHO_PORT, true),
    )
}

/// Writes `text` to `dir/parvis.toml` (once for both) and starts node `i`'s
/// daemon with `--state-dir dir/<node>/state` and `--socket
/// dir/<node>/control.sock`; returns once its control socket answers.
pub fn start_node(
    topo: &Topology,
    i: usize,
    exe: &Path,
    dir: &Path,
    text: &str,
) -> Result<Daemon, LabError> {
    node_serve(i, dir, text, None)?.start(topo.node(i), exe)
}

/// [`start_node`] with the daemon's stdout and stderr appended to
/// `dir/<node>.log` at `RUST_LOG=debug` (what the HA tests read back).
pub fn start_node_logged(
    topo: &Topology,
    i: usize,
    exe: &Path,
    dir: &Path,
    text: &str,
) -> Result<Daemon, LabError> {
    let log = dir.join(format!("{}.log", NODE_NAMES[i]));
    node_serve(i, dir, text, Some(log))?.start(topo.node(i), exe)
}

/// Node `i`'s files: the shared `dir/parvis.toml` (written), its own
/// `dir/<node>/state` and `dir/<node>/control.sock`.
fn node_serve(i: usize, dir: &Path, text: &str, log: Option<PathBuf>) -> Result<Serve, LabError> {
    let node_dir = dir.join(NODE_NAMES[i]);
    std::fs::create_dir_all(&node_dir).map_err(|e| LabError::NotReady {
        command: format!("mkdir {}", node_dir.display()),
        reason: e.to_string(),
    })?;
    Ok(Serve {
        config: write_config(dir, text)?,
        socket: node_dir.join("control.sock"),
        state_dir: Some(node_dir.join("state")),
        debug: log.is_some(),
        log,
    })
}

/// The demo ingresses (TLS :443 and HTTP :80), the forward target and the
/// TCP echo behind [`ECHO_PORT`].
pub fn start_backends(topo: &Topology, exe: &Path) -> Result<(Vec<ChildGuard>, Echo), LabError> {
    let mut out = start_ingresses(topo, exe, ProxyMode::Optional)?.children;
    out.push(start_forward_target(topo, exe)?);
    let echo = start_echo(topo.server(), (SERVER, ECHO_PORT).into())?;
    Ok((out, echo))
}

/// What `parvis lab --ha` prints: the picture and how to make the VIPs move.
pub fn notes(topo: &Topology, dir: &Path, pids: [u32; 2]) -> String {
    let c = topo.client().name();
    let [h, _] = DEMO_HOSTS;
    let f = FLOATING_IP;
    let sock = |i: usize| {
        dir.join(NODE_NAMES[i])
            .join("control.sock")
            .display()
            .to_string()
    };
    format!(
        "\nparvis lab --ha is up: nodes a ({na}, {pa}) and b ({nb}, {pb}) share\n\
         the public VIP {VIP_PUBLIC} (floating IP {f}) and the internal VIP {VIP_INTERNAL}.\n\
         Port security on both bridges; VRRP multicast is dropped (unicast only).\n\
         \nWatch the service from the client (one line per request):\n\
         \x20 ip netns exec {c} sh -c 'while sleep 0.2; do curl -sk --max-time 1 --resolve {h}:443:{f} https://{h}/ | head -c 60; echo; done'\n\
         \nRoles (the MASTER holds both VIPs):\n\
         \x20 parvis ha status --socket {sa}\n\
         \x20 parvis ha status --socket {sb}\n\
         \nMake it move (node a's daemon is pid {ida}, b's is {idb}):\n\
         \x20 kill -9 {ida}                      crash: keepalived dies with the daemon, b takes over\n\
         \x20 kill -STOP {ida}; kill -CONT {ida}   hang: the health file goes stale, a goes FAULT\n\
         \x20 parvis ha handover --socket {sa}   planned: b takes over, a stands by as BACKUP\n\
         \x20 ip -n {ns_a} link set ens3 down     link loss (back: link set ens3 up; route add default via {ROUTER_PUBLIC})\n\
         \nIn-kernel forwards survive a crash failover: type into a held echo connection\n\
         \x20 ip netns exec {c} socat - TCP:{f}:{ECHO_PORT}\n\
         Ctrl-C removes everything.\n",
        na = NODE_INTERNAL[0],
        nb = NODE_INTERNAL[1],
        pa = topo.node(0).name(),
        pb = topo.node(1).name(),
        sa = sock(0),
        sb = sock(1),
        ida = pids[0],
        idb = pids[1],
        ns_a = topo.node(0).name(),
    )
}
