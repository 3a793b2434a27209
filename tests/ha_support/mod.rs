//! A running pair in the `lab --ha` topology, for the HA tests and the
//! benchmark: start, roles, VIP owners, faults, and polling with deadlines.
//! Does I/O.

#![allow(dead_code)]

#[path = "../support/mod.rs"]
mod support;

pub mod apply;
mod held_tls;
#[allow(unused_imports)]
pub use apply::{apply, versions, with_forward};
#[allow(unused_imports)]
pub use held_tls::HeldTls;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parvis::lab::appliance::{wait_ready, Daemon};
use parvis::lab::echo::Echo;
use parvis::lab::neutron::{StandIn, PORT_IDS};
use parvis::lab::neutron_pair::{neutron_config, write_secret};
use parvis::lab::pair::{self, start_backends, start_node};
use parvis::lab::pair_topology::{NODE_NAMES, VIP_INTERNAL, VIP_PUBLIC};
use parvis::lab::{ChildGuard, PairTopology, DEMO_HOSTS, FLOATING_IP};

/// The advertisement interval the tests run with.
pub const ADVERT: Duration = Duration::from_millis(1000);

/// The failover mode a pair runs in: VIPs moved by VRRP alone, or the
/// floating IP moved through the Keystone/Neutron stand-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `mode = "vrrp"`: gratuitous ARP moves the floating IP's traffic.
    Vrrp,
    /// `mode = "neutron"`: only a PUT to the stand-in moves it.
    Neutron,
}

/// Two nodes, their backends and their daemons; everything goes on drop.
pub struct Pair {
    /// Daemons first: they die before their namespaces.
    pub daemons: [Option<Daemon>; 2],
    /// The Keystone/Neutron stand-in, in the "neutron" mode.
    pub api: Option<StandIn>,
    pub backends: (Vec<ChildGuard>, Echo),
    pub topo: PairTopology,
    pub dir: tempfile::TempDir,
    pub text: String,
}

/// The `parvis` binary cargo built (`tests/support`'s), or `PARVIS_HA_EXE`
/// when set: `make ha-bench` can run a frozen copy while the tree is rebuilt.
pub fn exe() -> PathBuf {
    std::env::var_os("PARVIS_HA_EXE")
        .map(PathBuf::from)
        .unwrap_or_else(support::parvis_exe)
}

/// Panics unless running as root (`tests/support`'s check).
pub fn require_root() {
    support::require_root();
}

/// Failover deadline at [`ADVERT`]: the master-down interval and then some.
pub fn failover() -> Duration {
    ADVERT * 4 + Duration::from_secs(3)
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

/// How the "neutron" mode's lab is set up.
#[derive(Default)]
struct NeutronLab {
    /// Each API call's delay.
    delay: Duration,
    /// The credential's secret in a 0600 file rather than inline.
    secret_in_file: bool,
    /// HTTPS: the stand-in's TLS and the CA file the nodes trust.
    https: Option<(Arc<rustls::ServerConfig>, PathBuf)>,
}

impl NeutronLab {
    /// The nodes' config for `api`.
    fn config(&self, dir: &Path, state: &Path, advert: Duration, api: &StandIn) -> String {
        let secret = self
            .secret_in_file
            .then(|| write_secret(dir).expect("secret"));
        let text = neutron_config(state, advert, secret.as_deref());
        match &self.https {
            Some((_, ca)) => text.replace(&StandIn::auth_url(), &api.url()).replace(
                "[ha.neutron]\n",
                &format!("[ha.neutron]\nca_file = \"{}\"\n", ca.display()),
            ),
            None => text,
        }
    }
}

impl Pair {
    /// Builds the lab and starts `a` (which becomes MASTER), then `b` (BACKUP).
    pub fn start(advert: Duration) -> Pair {
        Self::launch(advert, None)
    }

    /// The "neutron" mode over HTTPS: the stand-in serves TLS with `tls`
    /// and the nodes trust the CA in `ca_file` (`ha.neutron.ca_file`).
    pub fn start_neutron_tls(tls: Arc<rustls::ServerConfig>, ca_file: &Path) -> Pair {
        Self::launch(
            ADVERT,
            Some(NeutronLab {
                https: Some((tls, ca_file.to_path_buf())),
                ..NeutronLab::default()
            }),
        )
    }

    /// [`Pair::start`] in `mode` ("neutron": the stand-in answers at once,
    /// the secret in a 0600 file).
    pub fn start_in(mode: Mode, advert: Duration) -> Pair {
        match mode {
            Mode::Vrrp => Self::launch(advert, None),
            Mode::Neutron => Self::launch(
                advert,
                Some(NeutronLab {
                    secret_in_file: true,
                    ..NeutronLab::default()
                }),
            ),
        }
    }

    /// The "neutron" mode, each API call taking `delay`; `secret_in_file`:
    /// the credential's secret in a 0600 file rather than inline. Returns
    /// once the floating IP points at `a` and serves.
    pub fn start_neutron(delay: Duration, secret_in_file: bool, advert: Duration) -> Pair {
        let lab = NeutronLab {
            delay,
            secret_in_file,
            https: None,
        };
        Self::launch(advert, Some(lab))
    }

    fn launch(advert: Duration, neutron: Option<NeutronLab>) -> Pair {
        require_root();
        let topo = PairTopology::build().expect("pair topology");
        let api = neutron.as_ref().map(|n| {
            let router = topo.router().name();
            let api = match &n.https {
                Some((tls, _)) => StandIn::start_tls(router, tls.clone()),
                None => StandIn::start(router),
            };
            let api = api.expect("stand-in");
            api.world().delay = n.delay;
            api
        });
        let backends = start_backends(&topo, &exe()).expect("backends");
        // Not under /tmp: keepalived refuses a script whose folders others can write.
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let dir = tempfile::tempdir_in(base).expect("tempdir");
        let state = dir.path().join("state");
        let text = match (&neutron, &api) {
            (Some(n), Some(api)) => n.config(dir.path(), &state, advert, api),
            _ => pair::config(&state, advert),
        };
        let mut p = Pair {
            daemons: [None, None],
            api,
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
        if let Some(NeutronLab { delay, .. }) = neutron {
            wait_for("the floating IP on a", failover() + delay * 2, || {
                p.fip_port() == Some(0)
            });
            wait_for("TLS through a", failover(), || p.tls_ok());
        }
        p
    }

    /// The failover mode this pair runs in.
    pub fn mode(&self) -> Mode {
        if self.api.is_some() {
            Mode::Neutron
        } else {
            Mode::Vrrp
        }
    }

    /// Which node's port the stand-in says the floating IP points at
    /// (`None` in the VRRP mode, or when it points at nothing).
    pub fn fip_port(&self) -> Option<usize> {
        let w = self.api.as_ref()?.world();
        w.port
            .as_deref()
            .and_then(|p| PORT_IDS.iter().position(|x| *x == p))
    }

    /// The floating IP reaches node `i`: always in the VRRP mode (the
    /// router follows ARP), once the stand-in was told so in the "neutron"
    /// mode.
    pub fn fip_on(&self, i: usize) -> bool {
        self.api.is_none() || self.fip_port() == Some(i)
    }

    /// (Re)starts node `i`'s daemon; in the "neutron" mode with its output
    /// in `dir/<node>.log` at `RUST_LOG=debug` (the tests look for the
    /// secret there).
    pub fn start_node(&mut self, i: usize) {
        let d = if self.api.is_some() {
            self.start_logged(i)
        } else {
            start_node(&self.topo, i, &exe(), self.dir.path(), &self.text).expect("daemon")
        };
        self.daemons[i] = Some(d);
    }

    fn start_logged(&self, i: usize) -> Daemon {
        let dir = self.dir.path();
        let node_dir = dir.join(NODE_NAMES[i]);
        std::fs::create_dir_all(&node_dir).expect("mkdir");
        let config = dir.join("parvis.toml");
        std::fs::write(&config, &self.text).expect("config");
        let socket = node_dir.join("control.sock");
        let _ = std::fs::remove_file(&socket);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("{}.log", NODE_NAMES[i])))
            .expect("log");
        let mut cmd = self.topo.node(i).command(&exe().to_string_lossy());
        cmd.arg("serve")
            .arg("--config")
            .arg(&config)
            .arg("--socket")
            .arg(&socket)
            .arg("--state-dir")
            .arg(node_dir.join("state"))
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        let mut child = ChildGuard::spawn(cmd).expect("daemon");
        wait_ready(&mut child, &socket).expect("ready");
        Daemon {
            child,
            config,
            socket,
            state_dir: node_dir.join("state"),
        }
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
