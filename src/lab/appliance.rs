//! The appliance side of the lab: the sample config for the single
//! appliance (and the listener, backend and forward tables the pair's
//! config shares), the real `parvis serve` started in the appliance
//! namespace, a demo server behind a port forward, and a loopback door from
//! the host to the admin UI. Used by `parvis lab` and by the integration
//! tests. Does I/O, except the config texts (pure).

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Stdio;

use rand::Rng;

use super::demos::start_demo;
pub use super::serve::{wait_ready, Daemon};
use super::serve::{write_config, Serve};
use super::{ChildGuard, LabError, Topology, DEMO_HOSTS, FLOATING_IP, INGRESS, SERVER};
use crate::demo::{self, ProxyMode};

/// The port forwarded in-kernel to the lab's `server` host.
pub const FORWARD_PORT: u16 = 8080;
/// The host loopback port that leads to the admin UI through the client.
pub const ADMIN_DOOR: u16 = 18443;

/// The sample config of the lab: two demo host names on two ingress nodes,
/// a default backend over both, PROXY v2 for TLS and v1 for HTTP, limits,
/// an in-kernel forward and the admin port open to the client network.
pub fn config(topo: &Topology, state_dir: &Path) -> String {
    let [a, b] = DEMO_HOSTS;
    let [i1, i2] = INGRESS;
    format!(
        r#"# parvis lab: the sample config (see examples/parvis.toml for every key)
[appliance]
name = "lab-edge"
state_dir = "{state}"

[interfaces.public]
name = "{public}"

[interfaces.internal]
name = "{internal}"

[admin]
listen = "0.0.0.0:8443"
allow = ["198.51.100.0/24"]

[limits]
conn_rate = "100/second"
conn_burst = 200
conn_max = 500
ban = "1m"
block = ["203.0.113.128/25"]

{listeners}
[[route]]
listener = "https"
hosts = ["{a}"]
backend = "ingress-a"

[[route]]
listener = "https"
hosts = ["{b}", "*.paroisses.example.org"]
backend = "ingress-b"

[backend.ingress-a]
servers = ["{i1}:443"]
proxy_protocol = "v2"

[backend.ingress-b]
servers = ["{i2}:443"]
proxy_protocol = "v2"

{backends}{forward}"#,
        state = state_dir.display(),
        public = topo.public_port().name,
        internal = topo.internal_port().name,
        listeners = listeners(Ipv4Addr::UNSPECIFIED),
        backends = ingress_backends(true),
        forward = forward(FORWARD_PORT, false),
    )
}

/// The two `[[listener]]` tables every lab config has: `https` (TLS, to
/// `ingress-all`) and `http` (to `ingress-http`) on `bind`.
pub(super) fn listeners(bind: Ipv4Addr) -> String {
    format!(
        r#"[[listener]]
name = "https"
bind = "{bind}:443"
protocol = "tls"
default_backend = "ingress-all"

[[listener]]
name = "http"
bind = "{bind}:80"
protocol = "http"
default_backend = "ingress-http"
"#
    )
}

/// The backends over both ingress nodes: `ingress-all` (TLS, PROXY v2,
/// health-checked; `least-conn` when asked) and `ingress-http` (PROXY v1).
pub(super) fn ingress_backends(least_conn: bool) -> String {
    let [i1, i2] = INGRESS;
    let balance = if least_conn {
        "balance = \"least-conn\"\n"
    } else {
        ""
    };
    format!(
        r#"[backend.ingress-all]
servers = ["{i1}:443", "{i2}:443"]
proxy_protocol = "v2"
{balance}health = {{ interval = "1s", timeout = "500ms", fall = 2, rise = 1 }}

[backend.ingress-http]
servers = ["{i1}:80", "{i2}:80"]
proxy_protocol = "v1"
"#
    )
}

/// A TCP `[[forward]]` of `port` to the same port on the lab's server.
pub(super) fn forward(port: u16, masquerade: bool) -> String {
    format!(
        "\n[[forward]]\nproto = \"tcp\"\nport = {port}\nto = \"{SERVER}:{port}\"\nmasquerade = {masquerade}\n"
    )
}

/// Writes `config_text` to `dir/parvis.toml` and starts `exe serve` in the
/// appliance namespace; returns once the control socket answers (the
/// startup apply is done) or fails if the daemon exits or takes over 30 s.
pub fn start_daemon(
    topo: &Topology,
    exe: &Path,
    dir: &Path,
    config_text: &str,
) -> Result<Daemon, LabError> {
    let serve = Serve {
        config: write_config(dir, config_text)?,
        socket: dir.join("control.sock"),
        state_dir: None,
        log: None,
        debug: false,
    };
    serve.start(topo.appliance(), exe)
}

/// A random password for the lab's admin account.
pub fn password() -> String {
    const CHARS: &[u8] = b"abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY345679";
    let mut rng = rand::thread_rng();
    (0..14)
        .map(|_| char::from(CHARS[rng.gen_range(0..CHARS.len())]))
        .collect()
}

/// The demo server behind the lab's port forward (plain HTTP, no PROXY).
pub fn start_forward_target(topo: &Topology, exe: &Path) -> Result<ChildGuard, LabError> {
    let opts = demo::Options {
        name: "server".into(),
        tls: None,
        http: Some((SERVER, FORWARD_PORT).into()),
        proxy: ProxyMode::Off,
        hosts: Vec::new(),
    };
    start_demo(topo.server(), exe, &opts)
}

/// A loopback listener on the host (`127.0.0.1:port`) whose connections
/// socat carries into the client namespace to `target`: a browser or test
/// on this machine reaches the appliance as the client 198.51.100.10 would.
/// `None` when socat cannot be started.
pub fn door(topo: &Topology, port: u16, target: std::net::SocketAddr) -> Option<ChildGuard> {
    // SYSTEM runs a shell line; socat's own address parser needs the
    // colons of the inner address escaped.
    let inner = format!(
        "ip netns exec {} socat STDIO TCP\\:{}\\:{}",
        topo.client().name(),
        target.ip(),
        target.port()
    );
    let mut cmd = std::process::Command::new("socat");
    cmd.arg(format!("TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr"))
        .arg(format!("SYSTEM:{inner}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    ChildGuard::spawn(cmd).ok()
}

/// The lab's door to the admin UI on the floating IP, at [`ADMIN_DOOR`].
pub fn admin_door(topo: &Topology) -> Option<ChildGuard> {
    door(topo, ADMIN_DOOR, (FLOATING_IP, 8443).into())
}

/// Text printed after the lab's picture: what to try.
pub fn notes(topo: &Topology, password: &str, door: bool) -> String {
    let c = topo.client().name();
    let [a, b] = DEMO_HOSTS;
    let f = FLOATING_IP;
    let door_line = if door {
        format!("  in a browser on this machine:  https://127.0.0.1:{ADMIN_DOOR}/  (goes in as the client)\n")
    } else {
        String::new()
    };
    format!(
        "\nparvis is running in the appliance namespace. Try, from the client (198.51.100.10):\n\
         \n  ip netns exec {c} curl -sk --resolve {a}:443:{f} https://{a}/\n\
         \x20 ip netns exec {c} curl -sk --resolve {b}:443:{f} https://{b}/\n\
         \x20 ip netns exec {c} curl -s -H 'Host: {a}' http://{f}/\n\
         \x20 ip netns exec {c} curl -s http://{f}:{FORWARD_PORT}/      (in-kernel forward, no proxy)\n\
         \nEach ingress answers with the client address it was told (client=198.51.100.10).\n\
         \nAdmin UI: https://{f}:8443/  user admin, password {password}\n{door_line}\
         \x20 ip netns exec {c} curl -sk https://{f}:8443/login\n\
         \nDiagnostics: ip netns exec {app} <parvis> status --socket <lab dir>/control.sock\n\
         Ctrl-C removes everything.\n",
        app = topo.appliance().name(),
    )
}
