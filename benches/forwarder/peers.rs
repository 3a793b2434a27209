//! The programs the benchmark starts: the nginx "hello" backend, the bulk
//! and idle backend, and each forwarder under test (HAProxy, nginx stream,
//! parvis) or the kernel-only direct path.
//!
//! Does I/O: writes config files into a private temp dir, spawns processes
//! inside the lab namespaces (killed by PID on drop), loads and deletes one
//! nftables table in the appliance namespace (direct path only).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::running::Running;
use parvis::lab::{ChildGuard, LabError, Ns, Topology, APPLIANCE_PUBLIC, FLOATING_IP, INGRESS};

use crate::backend::{BULK_PLAIN, BULK_PROXY, IDLE_PLAIN, IDLE_PROXY, READY};

/// SNI of the short-answer route (connection rate, latency).
pub const HELLO_HOST: &str = "hello.bench.test";
/// SNI of the bulk-data route.
pub const BULK_HOST: &str = "bulk.bench.test";
/// SNI of the idle-connection route.
pub const IDLE_HOST: &str = "idle.bench.test";
/// nginx "hello" backend port expecting a PROXY header.
pub const HELLO_PROXY: u16 = 7443;
/// nginx "hello" backend port for the direct path.
pub const HELLO_PLAIN: u16 = 7444;
/// The nftables table that makes the direct path (appliance namespace).
const DIRECT_TABLE: &str = "pv-bench-direct";

/// One contender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contender {
    /// No proxy: the appliance DNATs to the backend in the kernel.
    Direct,
    /// HAProxy 2.6, `mode tcp`, `req.ssl_sni`, `send-proxy-v2`.
    Haproxy,
    /// nginx 1.22 stream, `ssl_preread`, `proxy_protocol on` (v1).
    Nginx,
    /// `parvis serve`, PROXY v2.
    Parvis,
}

impl Contender {
    /// Every contender, in table order.
    pub const ALL: [Contender; 4] = [Self::Direct, Self::Haproxy, Self::Nginx, Self::Parvis];

    /// Column heading and `PARVIS_BENCH_ONLY` name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Haproxy => "haproxy",
            Self::Nginx => "nginx",
            Self::Parvis => "parvis",
        }
    }

    /// Where the client connects for the route with SNI `host`.
    pub fn target(self, host: &str) -> SocketAddr {
        let port = match (self, host) {
            (Self::Direct, HELLO_HOST) => HELLO_PLAIN,
            (Self::Direct, BULK_HOST) => BULK_PLAIN,
            (Self::Direct, _) => IDLE_PLAIN,
            _ => 443,
        };
        SocketAddr::V4(SocketAddrV4::new(FLOATING_IP, port))
    }
}

/// What went wrong starting a peer.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// A lab operation failed.
    #[error(transparent)]
    Lab(#[from] LabError),
    /// A config or log file could not be written.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The program started but never listened.
    #[error("{what} not reachable within 10 s; its log: {log}")]
    NotReady {
        /// Which program.
        what: String,
        /// The end of its log file.
        log: String,
    },
}

fn write(dir: &Path, name: &str, text: &str) -> Result<PathBuf, PeerError> {
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|source| PeerError::File {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// Spawns `args` in `ns`, stdout and stderr to `dir/<log>`.
fn spawn_logged(ns: &Ns, args: &[&str], dir: &Path, log: &str) -> Result<ChildGuard, PeerError> {
    let path = dir.join(log);
    let file = |p: &Path| {
        File::create(p).map_err(|source| PeerError::File {
            path: p.to_owned(),
            source,
        })
    };
    let (out, err) = (file(&path)?, file(&path.with_extension("err"))?);
    let mut cmd = ns.command(args[0]);
    cmd.args(&args[1..])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    Ok(ChildGuard::spawn(cmd)?)
}

/// Waits until `from` can open a TCP connection to `addr`.
fn wait_tcp(
    from: &Ns,
    addr: SocketAddr,
    what: &str,
    dir: &Path,
    log: &str,
) -> Result<(), PeerError> {
    let target = format!("TCP:{addr},connect-timeout=1");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if from
            .run(&["socat", "-u", "OPEN:/dev/null", &target])
            .is_ok()
        {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(PeerError::NotReady {
        what: what.to_owned(),
        log: read_logs(dir, log),
    })
}

/// The stdout and stderr logs of a program started by [`spawn_logged`].
fn read_logs(dir: &Path, log: &str) -> String {
    let read = |p: PathBuf| std::fs::read_to_string(p).unwrap_or_default();
    let log = dir.join(log);
    format!("{}{}", read(log.clone()), read(log.with_extension("err")))
}

/// nginx stream `return "hello\n"` on ingress1: `:7443` with PROXY, `:7444` without.
pub fn start_hello_backend(topo: &Topology, dir: &Path) -> Result<Running, PeerError> {
    let ip = INGRESS[0];
    let servers = format!(
        "  server {{ listen {ip}:{HELLO_PROXY} proxy_protocol backlog=4096; return \"hello\\n\"; }}\n\
         \x20 server {{ listen {ip}:{HELLO_PLAIN} backlog=4096; return \"hello\\n\"; }}\n"
    );
    let running = start_nginx(topo.ingress(0), dir, "backend", &servers)?;
    let from = topo.appliance();
    let addr = SocketAddr::from((ip, HELLO_PLAIN));
    wait_tcp(from, addr, "nginx hello backend", dir, "backend.log")?;
    Ok(running)
}

/// The bench binary's own bulk/idle backend on ingress1 (see `backend.rs`).
pub fn start_data_backend(topo: &Topology, exe: &Path) -> Result<Running, PeerError> {
    let ns = topo.ingress(0);
    let mut cmd = ns.command(&exe.to_string_lossy());
    cmd.args(["--backend", &INGRESS[0].to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let mut guard = ChildGuard::spawn(cmd)?;
    let not_ready = |log: &str| PeerError::NotReady {
        what: "bench data backend".into(),
        log: log.to_owned(),
    };
    let stdout = guard
        .child_mut()
        .stdout
        .take()
        .ok_or_else(|| not_ready("no pipe"))?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(line) if line.trim_end() == READY => Ok(Running::process(guard, false)),
        Ok(line) => Err(not_ready(&format!("printed {line:?}"))),
        Err(_) => Err(not_ready("no ready line")),
    }
}

/// Writes an nginx config (stream block `servers`) and runs nginx in `ns`.
fn start_nginx(ns: &Ns, dir: &Path, name: &str, servers: &str) -> Result<Running, PeerError> {
    let d = dir.display();
    let conf = format!(
        "load_module /usr/lib/nginx/modules/ngx_stream_module.so;\n\
         user root;\nworker_processes 2;\nworker_rlimit_nofile 19000;\n\
         pid {d}/{name}.pid;\nerror_log {d}/{name}.error.log warn;\n\
         events {{ worker_connections 18000; }}\n\
         stream {{\n{servers}}}\n"
    );
    let path = write(dir, &format!("{name}.nginx.conf"), &conf)?;
    let (path, err_log) = (path.to_string_lossy(), format!("{d}/{name}.error.log"));
    let args = [
        "nginx",
        "-e",
        &err_log,
        "-p",
        &d.to_string(),
        "-c",
        &path,
        "-g",
        "daemon off;",
    ];
    let guard = spawn_logged(ns, &args, dir, &format!("{name}.log"))?;
    Ok(Running::process(guard, true))
}

/// Starts `who` in the appliance namespace and waits until the client
/// reaches it through the floating IP. `parvis` is the binary for
/// [`Contender::Parvis`].
pub fn start(
    who: Contender,
    topo: &Topology,
    dir: &Path,
    parvis: &Path,
) -> Result<Running, PeerError> {
    let a = topo.appliance();
    let mut running = match who {
        Contender::Direct => start_direct(a)?,
        Contender::Haproxy => {
            let cfg = write(dir, "haproxy.cfg", &haproxy_config())?;
            let args = ["haproxy", "-db", "-f", &cfg.to_string_lossy()];
            let guard = spawn_logged(a, &args, dir, "haproxy.log")?;
            Running::process(guard, false)
        }
        Contender::Nginx => start_nginx(a, dir, "forwarder", &nginx_stream())?,
        Contender::Parvis => {
            let cfg = write(dir, "parvis.toml", &parvis_config(dir))?;
            let exe = parvis.to_string_lossy();
            let socket = dir.join("control.sock");
            let args = [
                exe.as_ref(),
                "serve",
                "--config",
                &cfg.to_string_lossy(),
                "--socket",
                &socket.to_string_lossy(),
            ];
            let guard = spawn_logged(a, &args, dir, "parvis.log")?;
            Running::process(guard, false).leaving_table(a.name(), "inet parvis")
        }
    };
    let log = format!("{}.log", who.name());
    wait_tcp(topo.client(), who.target(HELLO_HOST), who.name(), dir, &log)?;
    // Something answered; make sure it is this program and not a leftover.
    if let Some(status) = running.exited() {
        return Err(PeerError::NotReady {
            what: format!("{} (exited: {status})", who.name()),
            log: read_logs(dir, &log),
        });
    }
    Ok(running)
}

fn start_direct(a: &Ns) -> Result<Running, PeerError> {
    let ports = [HELLO_PLAIN, BULK_PLAIN, IDLE_PLAIN];
    let rules: String = ports
        .iter()
        .map(|p| {
            format!(
                "\t\tip daddr {APPLIANCE_PUBLIC} tcp dport {p} dnat to {}:{p}\n",
                INGRESS[0]
            )
        })
        .collect();
    let ruleset = format!(
        "table ip {DIRECT_TABLE} {{\n\tchain prerouting {{\n\
         \t\ttype nat hook prerouting priority dstnat; policy accept;\n{rules}\t}}\n}}\n"
    );
    a.run_with_input(&["nft", "-f", "-"], ruleset.as_bytes())?;
    Ok(Running::nft_table(a.name(), DIRECT_TABLE))
}

/// The three routes: (SNI, backend name, backend port with PROXY).
fn routes() -> [(&'static str, &'static str, u16); 3] {
    [
        (HELLO_HOST, "hello", HELLO_PROXY),
        (BULK_HOST, "bulk", BULK_PROXY),
        (IDLE_HOST, "idle", IDLE_PROXY),
    ]
}

fn listen() -> SocketAddrV4 {
    SocketAddrV4::new(APPLIANCE_PUBLIC, 443)
}

fn backend(port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(INGRESS[0], port)
}

/// HAProxy as the issue describes it; `maxconn` 8000 (20,000 open files here).
pub fn haproxy_config() -> String {
    let mut s = format!(
        "global\n  maxconn 8000\n\ndefaults\n  mode tcp\n  maxconn 8000\n  timeout connect 5s\n\
         \x20 timeout client 10m\n  timeout server 10m\n\nfrontend tls\n  bind {}\n\
         \x20 tcp-request inspect-delay 5s\n\
         \x20 tcp-request content accept if {{ req.ssl_hello_type 1 }}\n",
        listen()
    );
    for (host, name, _) in routes() {
        s += &format!("  use_backend {name} if {{ req.ssl_sni -i {host} }}\n");
    }
    for (_, name, port) in routes() {
        s += &format!(
            "\nbackend {name}\n  server s1 {} send-proxy-v2\n",
            backend(port)
        );
    }
    s
}

/// The nginx stream block: `ssl_preread`, a map on the SNI, PROXY v1.
pub fn nginx_stream() -> String {
    let mut s = String::from("  map $ssl_preread_server_name $be {\n");
    for (host, _, port) in routes() {
        s += &format!("    {host} {};\n", backend(port));
    }
    s + &format!(
        "  }}\n  server {{\n    listen {} backlog=4096;\n    ssl_preread on;\n\
         \x20   proxy_pass $be;\n    proxy_protocol on;\n    proxy_timeout 10m;\n  }}\n",
        listen()
    )
}

/// `parvis serve` config: one TLS listener, three routes, PROXY v2.
pub fn parvis_config(dir: &Path) -> String {
    let mut s = format!(
        "[appliance]\nname = \"bench\"\nstate_dir = \"{}\"\n\n\
         [[listener]]\nname = \"tls\"\nbind = \"{}\"\nprotocol = \"tls\"\n",
        dir.join("parvis-state").display(),
        listen()
    );
    for (host, name, _) in routes() {
        s += &format!(
            "\n[[route]]\nlistener = \"tls\"\nhosts = [\"{host}\"]\nbackend = \"{name}\"\n"
        );
    }
    for (_, name, port) in routes() {
        s += &format!(
            "\n[backend.{name}]\nservers = [\"{}\"]\nproxy_protocol = \"v2\"\n",
            backend(port)
        );
    }
    s
}

/// Whether `parvis` has a working `serve` command.
pub fn parvis_can_serve(parvis: &Path) -> bool {
    std::process::Command::new(parvis)
        .args(["serve", "--help"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
