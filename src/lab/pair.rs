//! `parvis lab --ha`: the pair's topology, the demo ingresses and forward
//! target, and two real daemons `a` and `b` running one config (each with
//! its own `--state-dir` and control socket). Used by `parvis lab --ha`, the
//! HA tests and `make ha-bench`. Does I/O.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use super::appliance::{wait_ready, Daemon, FORWARD_PORT};
use super::echo::{start_echo, Echo};
use super::pair_topology::*;
use super::{
    start_demo, ChildGuard, LabError, DEMO_HOSTS, FLOATING_IP, INGRESS, ROUTER_PUBLIC, SERVER,
};
use crate::demo::{self, ProxyMode};

/// The forwarded port of the TCP echo on the server (held connections).
pub const ECHO_PORT: u16 = 7000;

/// The pair's shared config: both VIPs, the two nodes, listeners bound to
/// the public VIP, a forward to the server (SNAT to the internal VIP).
pub fn config(state_dir: &Path, advert: Duration) -> String {
    let [i1, i2] = INGRESS;
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

[[listener]]
name = "https"
bind = "{VIP_PUBLIC}:443"
protocol = "tls"
default_backend = "ingress-all"

[[listener]]
name = "http"
bind = "{VIP_PUBLIC}:80"
protocol = "http"
default_backend = "ingress-http"

[[route]]
listener = "https"
hosts = ["{ha}", "{hb}"]
backend = "ingress-all"

[backend.ingress-all]
servers = ["{i1}:443", "{i2}:443"]
proxy_protocol = "v2"
health = {{ interval = "1s", timeout = "500ms", fall = 2, rise = 1 }}

[backend.ingress-http]
servers = ["{i1}:80", "{i2}:80"]
proxy_protocol = "v1"

[[forward]]
proto = "tcp"
port = {FORWARD_PORT}
to = "{SERVER}:{FORWARD_PORT}"
masquerade = true

[[forward]]
proto = "tcp"
port = {ECHO_PORT}
to = "{SERVER}:{ECHO_PORT}"
masquerade = true
"#,
        state = state_dir.display(),
        advert = advert.as_millis(),
    )
}

/// Writes `text` to `dir/parvis.toml` (once for both) and starts node `i`'s
/// daemon with `--state-dir dir/<node>/state` and `--socket
/// dir/<node>/control.sock`; returns once its control socket answers.
pub fn start_node(
    topo: &PairTopology,
    i: usize,
    exe: &Path,
    dir: &Path,
    text: &str,
) -> Result<Daemon, LabError> {
    let io = |what: &str, e: std::io::Error| LabError::NotReady {
        command: format!("{what} in {}", dir.display()),
        reason: e.to_string(),
    };
    let node_dir = dir.join(NODE_NAMES[i]);
    std::fs::create_dir_all(&node_dir).map_err(|e| io("mkdir", e))?;
    let config = dir.join("parvis.toml");
    std::fs::write(&config, text).map_err(|e| io("write parvis.toml", e))?;
    let socket = node_dir.join("control.sock");
    let state_dir = node_dir.join("state");
    let _ = std::fs::remove_file(&socket);
    let mut cmd = topo.node(i).command(&exe.to_string_lossy());
    cmd.arg("serve")
        .arg("--config")
        .arg(&config)
        .arg("--socket")
        .arg(&socket)
        .arg("--state-dir")
        .arg(&state_dir)
        .stdin(Stdio::null());
    let mut child = ChildGuard::spawn(cmd)?;
    wait_ready(&mut child, &socket)?;
    Ok(Daemon {
        child,
        config,
        socket,
        state_dir,
    })
}

/// The demo ingresses (TLS :443 and HTTP :80), the forward target and the
/// TCP echo behind [`ECHO_PORT`].
pub fn start_backends(
    topo: &PairTopology,
    exe: &Path,
) -> Result<(Vec<ChildGuard>, Echo), LabError> {
    let mut out = Vec::new();
    for (i, ns) in topo.ingresses().iter().enumerate() {
        let opts = demo::Options {
            name: format!("ingress{}", i + 1),
            tls: Some((INGRESS[i], 443).into()),
            http: Some((INGRESS[i], 80).into()),
            proxy: ProxyMode::Optional,
            hosts: DEMO_HOSTS.iter().map(|h| (*h).to_owned()).collect(),
        };
        out.push(start_demo(ns, exe, &opts)?);
    }
    let opts = demo::Options {
        name: "server".into(),
        tls: None,
        http: Some((SERVER, FORWARD_PORT).into()),
        proxy: ProxyMode::Off,
        hosts: Vec::new(),
    };
    out.push(start_demo(topo.server(), exe, &opts)?);
    let echo = start_echo(topo.server(), (SERVER, ECHO_PORT).into())?;
    Ok((out, echo))
}

/// What `parvis lab --ha` prints: the picture and how to make the VIPs move.
pub fn notes(topo: &PairTopology, dir: &Path, pids: [u32; 2]) -> String {
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

/// `parvis lab --ha`: everything above, until `shutdown`; then removes it all.
pub async fn run(shutdown: impl std::future::Future<Output = ()>) -> Result<(), LabError> {
    let dir: PathBuf = std::env::temp_dir().join(format!("pv-lab-ha-{}", std::process::id()));
    let exe = std::env::current_exe().map_err(LabError::CurrentExe)?;
    let topo = PairTopology::build()?;
    let backends = start_backends(&topo, &exe)?;
    let text = config(
        &dir.join("state"),
        Duration::from_millis(crate::ha::RECOMMENDED_ADVERT_MS),
    );
    let a = start_node(&topo, 0, &exe, &dir, &text)?;
    let b = start_node(&topo, 1, &exe, &dir, &text)?;
    print!("{}", notes(&topo, &dir, [a.child.id(), b.child.id()]));
    shutdown.await;
    println!("removing the lab…");
    drop((a, b));
    drop(backends);
    drop(topo);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
