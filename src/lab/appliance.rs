//! The appliance side of the lab: a sample config for the lab topology,
//! the real `parvis serve` started in the appliance namespace, a demo
//! server behind a port forward, and a loopback door from the host to the
//! admin UI. Used by `parvis lab` and by the integration tests. Does I/O.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use rand::Rng;

use super::civi::{civi_config, civi_notes, start_civi};
use super::{start_demo, ChildGuard, LabError, Topology, DEMO_HOSTS, FLOATING_IP, INGRESS, SERVER};
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

[[listener]]
name = "https"
bind = "0.0.0.0:443"
protocol = "tls"
default_backend = "ingress-all"

[[listener]]
name = "http"
bind = "0.0.0.0:80"
protocol = "http"
default_backend = "ingress-http"

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

[backend.ingress-all]
servers = ["{i1}:443", "{i2}:443"]
proxy_protocol = "v2"
balance = "least-conn"
health = {{ interval = "1s", timeout = "500ms", fall = 2, rise = 1 }}

[backend.ingress-http]
servers = ["{i1}:80", "{i2}:80"]
proxy_protocol = "v1"

[[forward]]
proto = "tcp"
port = {fwd}
to = "{server}:{fwd}"
masquerade = false
"#,
        state = state_dir.display(),
        public = topo.public_port().name,
        internal = topo.internal_port().name,
        fwd = FORWARD_PORT,
        server = SERVER,
    )
}

/// A running `parvis serve` in the appliance namespace.
pub struct Daemon {
    /// The daemon process (killed on drop).
    pub child: ChildGuard,
    /// Its config file.
    pub config: PathBuf,
    /// Its control socket.
    pub socket: PathBuf,
    /// Its state directory.
    pub state_dir: PathBuf,
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
    let io = |what: &str, e: std::io::Error| LabError::NotReady {
        command: format!("{what} in {}", dir.display()),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| io("mkdir", e))?;
    let config = dir.join("parvis.toml");
    std::fs::write(&config, config_text).map_err(|e| io("write parvis.toml", e))?;
    let socket = dir.join("control.sock");
    let mut cmd = topo.appliance().command(&exe.to_string_lossy());
    cmd.arg("serve")
        .arg("--config")
        .arg(&config)
        .arg("--socket")
        .arg(&socket);
    cmd.stdin(Stdio::null());
    let mut child = ChildGuard::spawn(cmd)?;
    wait_ready(&mut child, &socket)?;
    let state_dir = parse_state_dir(config_text).unwrap_or_else(|| dir.join("state"));
    Ok(Daemon {
        child,
        config,
        socket,
        state_dir,
    })
}

/// Waits until a starting `parvis serve` has opened its control socket
/// (its startup apply is done); fails if it exits first or takes over 30 s.
pub fn wait_ready(child: &mut ChildGuard, socket: &Path) -> Result<(), LabError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !socket.exists() {
        if let Ok(Some(status)) = child.child_mut().try_wait() {
            return Err(LabError::NotReady {
                command: "parvis serve".into(),
                reason: format!("it exited ({status}) before it was ready; its log is above"),
            });
        }
        if Instant::now() > deadline {
            return Err(LabError::NotReady {
                command: "parvis serve".into(),
                reason: "no control socket after 30 s".into(),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn parse_state_dir(text: &str) -> Option<PathBuf> {
    crate::config::parse(text)
        .ok()
        .map(|c| c.appliance.state_dir)
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

/// `parvis lab`: the topology, the demo ingresses, the forward target and
/// the real daemon with the sample config and a fresh admin password;
/// everything is removed when `shutdown` resolves.
pub async fn run(shutdown: impl std::future::Future<Output = ()>) -> Result<(), LabError> {
    let dir = std::env::temp_dir().join(format!("pv-lab-{}", std::process::id()));
    let exe = std::env::current_exe().map_err(LabError::CurrentExe)?;
    let result = super::run_with(super::Options::default(), shutdown, |topo| {
        let target = start_forward_target(topo, &exe)?;
        let state_dir = dir.join("state");
        let password = password();
        crate::admin::auth::set_password(&state_dir, &password).map_err(|e| {
            LabError::NotReady {
                command: "parvis passwd".into(),
                reason: e.to_string(),
            }
        })?;
        let apache = start_civi(topo, &dir.join("apache"));
        let mut text = config(topo, &state_dir);
        if apache.is_ok() {
            text.push_str(&civi_config());
        }
        let daemon = start_daemon(topo, &exe, &dir, &text)?;
        let door = admin_door(topo);
        let mut notes = notes(topo, &password, door.is_some());
        notes = notes.replace("<lab dir>", &dir.display().to_string());
        // `parvis` is not on the PATH after `make demo`: name the binary.
        notes = notes.replace("<parvis>", &exe.display().to_string());
        // Apache's lines go before the admin UI's.
        notes = notes.replacen(
            "\nAdmin UI:",
            &format!("{}\nAdmin UI:", civi_notes(topo, &apache)),
            1,
        );
        let mut children = vec![daemon.child, target];
        children.extend(door);
        let receivers = apache.into_iter().collect();
        Ok(super::ApplianceStart {
            children,
            receivers,
            notes,
        })
    })
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}
