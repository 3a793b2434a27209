//! The real daemon core for the admin, API and CLI tests: the change
//! engine, the config store in a temporary folder, the real forwarder on
//! loopback (a TLS listener routing to a real backend that holds
//! connections, and a server on a closed port that health checks find
//! down), behind `parvis::daemon::engine`. Only the firewall is a double:
//! a [`RecordingFirewall`] behind the daemon's `Firewall` trait, which
//! renders each config with the real renderer and keeps bans in memory
//! with nft's rules (one ban per source and scope, 1 s to 49 days, IPv6 by
//! prefix), so no test touches the host's nftables. No root needed.
//! Does I/O (sockets, files).
#![allow(dead_code)] // each test binary uses its own subset

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "../../benches/forwarder/hello.rs"]
mod hello;

use parvis::daemon::{Daemon, Firewall, Kernel};
use parvis::firewall::{ban_key, Ban, BanScope, FirewallError, RuleCounter, SetFill, MAX_BAN_S};
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

/// The appliance name in [`config`].
pub const NAME: &str = "edge-test";

/// The daemon's first config: one TLS listener on `listen` with SNI routes
/// to `ingress-https` (servers `up` and `down`), limits, a block list and
/// an in-kernel forward (recorded only).
pub fn config(
    state: &std::path::Path,
    listen: SocketAddr,
    up: SocketAddr,
    down: SocketAddr,
) -> String {
    format!(
        r#"[appliance]
name = "{NAME}"
state_dir = "{state}"

[admin]
listen = "127.0.0.1:8443"
allow = ["127.0.0.0/8", "198.51.100.0/24"]

[limits]
conn_rate = "50/second"
conn_burst = 100
conn_max = 200
ban = "10m"
block = ["192.0.2.66"]

[[listener]]
name = "https"
bind = "{listen}"
protocol = "tls"
default_backend = "ingress-https"

[[route]]
listener = "https"
hosts = ["paroisse-a.example.org", "*.paroisses.example.org"]
backend = "ingress-https"

[backend.ingress-https]
servers = ["{up}", "{down}"]
proxy_protocol = "v2"
balance = "least-conn"
health = {{ interval = "200ms", timeout = "100ms", fall = 1, rise = 1 }}

[[forward]]
proto = "tcp"
port = 2222
to = "10.0.0.20:22"
masquerade = true
"#,
        state = state.display()
    )
}

/// What the recording firewall holds.
#[derive(Default)]
struct Recorded {
    /// Rule (chain, comment) of the last applied ruleset; `None`: no table.
    rules: Option<Vec<(String, String)>>,
    applies: usize,
    bans: BTreeMap<(IpAddr, bool), Instant>,
    calls: Vec<(IpAddr, u64, BanScope)>,
}

/// The firewall double: the real renderer, bans in memory.
#[derive(Default)]
pub struct RecordingFirewall {
    inner: Mutex<Recorded>,
}

impl RecordingFirewall {
    fn lock(&self) -> std::sync::MutexGuard<'_, Recorded> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every ban of everything asked for, in order: (source, seconds).
    pub fn ban_calls(&self) -> Vec<(IpAddr, u64)> {
        self.calls_of(BanScope::All)
    }

    /// Every admin-port ban (the login guard's), in order.
    pub fn login_ban_calls(&self) -> Vec<(IpAddr, u64)> {
        self.calls_of(BanScope::Admin)
    }

    fn calls_of(&self, scope: BanScope) -> Vec<(IpAddr, u64)> {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.2 == scope)
            .map(|c| (c.0, c.1))
            .collect()
    }

    /// How many rulesets were applied.
    pub fn applies(&self) -> usize {
        self.lock().applies
    }
}

fn admin(scope: BanScope) -> bool {
    scope == BanScope::Admin
}

impl Firewall for RecordingFirewall {
    fn check(&self, cfg: &parvis::config::Config) -> Result<(), FirewallError> {
        parvis::firewall::render(cfg);
        Ok(())
    }

    fn apply(&self, cfg: &parvis::config::Config) -> Result<(), FirewallError> {
        let rs = parvis::firewall::render(cfg);
        let rules = rs
            .comments()
            .into_iter()
            .map(|(chain, comment)| (chain.to_string(), comment.to_string()))
            .collect();
        let mut g = self.lock();
        g.rules = Some(rules);
        g.applies += 1;
        Ok(())
    }

    fn ruleset_text(&self) -> Result<String, FirewallError> {
        let g = self.lock();
        let rules = g.rules.as_ref().ok_or(FirewallError::NoTable)?;
        let mut text = String::from("table inet parvis {\n");
        for (chain, comment) in rules {
            text.push_str(&format!("\t# {chain}: comment \"{comment}\"\n"));
        }
        text.push_str("}\n");
        Ok(text)
    }

    fn counters(&self) -> Result<Vec<RuleCounter>, FirewallError> {
        let g = self.lock();
        let rules = g.rules.as_ref().ok_or(FirewallError::NoTable)?;
        Ok(rules
            .iter()
            .map(|(chain, comment)| RuleCounter {
                chain: chain.clone(),
                comment: comment.clone(),
                packets: 0,
                bytes: 0,
            })
            .collect())
    }

    fn bans(&self) -> Result<Vec<Ban>, FirewallError> {
        let now = Instant::now();
        Ok(self
            .lock()
            .bans
            .iter()
            .filter(|(_, until)| **until > now)
            .map(|((addr, admin), until)| Ban {
                addr: *addr,
                expires_in: Some(until.duration_since(now)),
                scope: if *admin {
                    BanScope::Admin
                } else {
                    BanScope::All
                },
            })
            .collect())
    }

    fn ban_add(
        &self,
        addr: IpAddr,
        duration: Duration,
        scope: BanScope,
        v6_prefix: u8,
    ) -> Result<(), FirewallError> {
        let key = ban_key(addr, v6_prefix);
        let secs = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
        if !(1..=u64::from(MAX_BAN_S)).contains(&secs) {
            return Err(FirewallError::BanDuration { addr: key });
        }
        let mut g = self.lock();
        g.calls.push((addr, duration.as_secs(), scope));
        g.bans.insert(
            (key, admin(scope)),
            Instant::now() + Duration::from_secs(secs),
        );
        Ok(())
    }

    fn ban_del(&self, addr: IpAddr, v6_prefix: u8) -> Result<bool, FirewallError> {
        let key = ban_key(addr, v6_prefix);
        let now = Instant::now();
        let mut g = self.lock();
        let mut lifted = false;
        for scope in [false, true] {
            if g.bans
                .remove(&(key, scope))
                .is_some_and(|until| until > now)
            {
                lifted = true;
            }
        }
        Ok(lifted)
    }

    fn set_fill(&self) -> Result<Vec<SetFill>, FirewallError> {
        Ok(Vec::new())
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    l.local_addr()
        .unwrap_or_else(|e| panic!("addr: {e}"))
        .port()
}

/// The running core; its tasks stop on drop.
pub struct Engine {
    /// The real daemon (`parvis::api::Control`).
    pub daemon: Arc<Daemon>,
    /// The firewall it drives.
    pub firewall: Arc<RecordingFirewall>,
    /// The state folder (config store, password, tokens, certificate).
    pub dir: tempfile::TempDir,
    /// The config it started with (version 1).
    pub text: String,
    /// The forwarder's TLS listener.
    pub listener: SocketAddr,
    /// The backend server that is up (it accepts and holds connections).
    pub up: SocketAddr,
    /// The backend server on a closed port.
    pub down: SocketAddr,
    token: CancellationToken,
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

/// Starts the core with [`config`] as version 1 and waits until the health
/// checks have found `up` up and `down` down.
pub async fn start() -> Engine {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let token = CancellationToken::new();
    let up = hold_connections(&token).await;
    let down: SocketAddr = format!("127.0.0.1:{}", free_port())
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    let listener: SocketAddr = format!("127.0.0.1:{}", free_port())
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    let text = config(dir.path(), listener, up, down);
    let store = parvis::store::Store::open(dir.path()).unwrap_or_else(|e| panic!("store: {e}"));
    let firewall = Arc::new(RecordingFirewall::default());
    let kernel = Arc::new(Kernel::with_firewall(None, firewall.clone()));
    let daemon = parvis::daemon::engine(store, kernel, &text, &token)
        .await
        .unwrap_or_else(|e| panic!("the daemon did not start: {e}"));
    let engine = Engine {
        daemon,
        firewall,
        dir,
        text,
        listener,
        up,
        down,
        token,
    };
    engine.wait_health().await;
    engine
}

impl Engine {
    /// Opens a connection to the forwarder's listener and sends a real TLS
    /// ClientHello naming `sni`; the forwarder routes it to a backend,
    /// which holds it open until the returned stream is dropped.
    pub async fn open_tls(&self, sni: &str) -> tokio::net::TcpStream {
        let hello = hello::client_hello(sni).unwrap_or_else(|e| panic!("hello: {e}"));
        let mut s = tokio::net::TcpStream::connect(self.listener)
            .await
            .unwrap_or_else(|e| panic!("connect {}: {e}", self.listener));
        tokio::io::AsyncWriteExt::write_all(&mut s, &hello)
            .await
            .unwrap_or_else(|e| panic!("send the hello: {e}"));
        s
    }

    async fn wait_health(&self) {
        use parvis::api::Control;
        for _ in 0..100 {
            let b = self.daemon.backends();
            let up = |addr: SocketAddr| {
                b.iter()
                    .flat_map(|b| &b.servers)
                    .find(|s| s.addr == addr)
                    .map(|s| s.up)
            };
            if up(self.up) == Some(true) && up(self.down) == Some(false) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the health checks never settled: {:?}",
            self.daemon.backends()
        );
    }
}

/// A backend on 127.0.0.1 that accepts connections and reads them until
/// the peer closes (or `token` is cancelled).
async fn hold_connections(token: &CancellationToken) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = l.local_addr().unwrap_or_else(|e| panic!("addr: {e}"));
    let token = token.clone();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = tokio::select! {
                r = l.accept() => match r { Ok(x) => x, Err(_) => return },
                () = token.cancelled() => return,
            };
            let stop = token.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                loop {
                    tokio::select! {
                        r = s.read(&mut buf) => if matches!(r, Ok(0) | Err(_)) { return },
                        () = stop.cancelled() => return,
                    }
                }
            });
        }
    });
    addr
}
