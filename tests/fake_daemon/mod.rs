//! A test double for the daemon: an in-memory [`Control`] with a config
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)]
//! history, a pending change with a deadline, a ban set that records every
//! `ban_add`, and one real TCP listener on 127.0.0.1 whose accepted
//! connections appear in `connections()` (so a test can open a real
//! connection and watch it in the UI). The lead replaces it with the real
//! daemon in end-to-end tests. Does I/O (that listener).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parvis::api::*;
use tokio::io::AsyncReadExt;

/// The config the fake starts with.
pub const INITIAL: &str = r#"[appliance]
name = "edge-test"
state_dir = "/tmp/parvis-fake"

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
bind = "0.0.0.0:443"
protocol = "tls"
default_backend = "ingress-https"

[[route]]
listener = "https"
hosts = ["paroisse-a.example.org", "*.paroisses.example.org"]
backend = "ingress-https"

[backend.ingress-https]
servers = ["10.0.0.11:443", "10.0.0.12:443"]
proxy_protocol = "v2"
balance = "least-conn"

[[forward]]
proto = "tcp"
port = 2222
to = "10.0.0.20:22"
masquerade = true
"#;

struct Version {
    view: VersionView,
    text: String,
}

#[derive(Default)]
struct Inner {
    versions: Vec<Version>,
    pending: Option<(u64, Instant)>,
    bans: BTreeMap<IpAddr, Instant>,
    events: Vec<EventView>,
    conns: BTreeMap<u64, ConnView>,
    opened: BTreeMap<u64, Instant>,
}

/// The fake daemon.
pub struct Fake {
    started: Instant,
    inner: Mutex<Inner>,
    /// Every `ban_add` call, in order.
    pub ban_calls: Mutex<Vec<(IpAddr, u64)>>,
    /// Every `login_ban` call (the login guard's), in order.
    pub login_ban_calls: Mutex<Vec<(IpAddr, u64)>>,
    next_id: AtomicU64,
    total: AtomicU64,
    /// The demo listener's address (connect here to make a connection).
    pub demo_addr: Mutex<Option<SocketAddr>>,
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Fake {
    /// A fake with version 1 running.
    pub fn new() -> Arc<Fake> {
        let fake = Fake {
            started: Instant::now(),
            inner: Mutex::new(Inner::default()),
            ban_calls: Mutex::new(Vec::new()),
            login_ban_calls: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
            total: AtomicU64::new(0),
            demo_addr: Mutex::new(None),
        };
        fake.record(INITIAL, "boot", "initial config", VersionState::Running);
        fake.event("apply", "version 1 applied at start");
        Arc::new(fake)
    }

    fn record(&self, text: &str, author: &str, comment: &str, state: VersionState) -> u64 {
        let mut g = self.inner.lock().unwrap();
        let version = g.versions.len() as u64 + 1;
        g.versions.push(Version {
            view: VersionView {
                version,
                time: now_unix(),
                author: author.into(),
                comment: comment.into(),
                state,
            },
            text: text.into(),
        });
        version
    }

    fn event(&self, kind: &str, message: &str) {
        self.inner.lock().unwrap().events.push(EventView {
            time: now_unix(),
            kind: kind.into(),
            message: message.into(),
        });
    }

    /// Starts the demo TCP listener on 127.0.0.1:0; returns its address.
    pub async fn start_demo_listener(self: &Arc<Self>) -> SocketAddr {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        *self.demo_addr.lock().unwrap() = Some(addr);
        let me = self.clone();
        tokio::spawn(async move {
            while let Ok((s, peer)) = l.accept().await {
                let me = me.clone();
                tokio::spawn(async move { me.track(s, peer).await });
            }
        });
        addr
    }

    async fn track(&self, mut s: tokio::net::TcpStream, peer: SocketAddr) {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        self.total.fetch_add(1, Ordering::SeqCst);
        {
            let mut g = self.inner.lock().unwrap();
            g.opened.insert(id, Instant::now());
            g.conns.insert(
                id,
                ConnView {
                    id,
                    listener: "https".into(),
                    client: peer,
                    host: None,
                    backend: Some("ingress-https".into()),
                    server: Some("10.0.0.11:443".parse().unwrap()),
                    age_ms: 0,
                    bytes_in: 0,
                    bytes_out: 0,
                },
            );
        }
        let mut buf = [0u8; 4096];
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
            let mut g = self.inner.lock().unwrap();
            if let Some(c) = g.conns.get_mut(&id) {
                c.bytes_in += n as u64;
                if c.host.is_none() {
                    let first = String::from_utf8_lossy(&buf[..n])
                        .lines()
                        .next()
                        .map(str::to_string);
                    c.host = first.filter(|l| !l.is_empty());
                }
            }
        }
        let mut g = self.inner.lock().unwrap();
        g.conns.remove(&id);
        g.opened.remove(&id);
    }

    fn running_text(g: &Inner) -> String {
        g.versions
            .iter()
            .rev()
            .find(|v| matches!(v.view.state, VersionState::Running | VersionState::Pending))
            .map(|v| v.text.clone())
            .unwrap_or_default()
    }

    fn expire_pending(&self) {
        let mut g = self.inner.lock().unwrap();
        if let Some((v, deadline)) = g.pending {
            if Instant::now() >= deadline {
                g.pending = None;
                Self::roll_back(&mut g, v);
            }
        }
    }

    /// Marks `v` rolled back and the latest earlier good version running.
    fn roll_back(g: &mut Inner, v: u64) {
        let idx = (v - 1) as usize;
        g.versions[idx].view.state = VersionState::RolledBack;
        if let Some(prev) = g.versions[..idx]
            .iter_mut()
            .rev()
            .find(|x| x.view.state == VersionState::Superseded)
        {
            prev.view.state = VersionState::Running;
        }
    }
}

impl Control for Fake {
    fn status(&self) -> StatusView {
        self.expire_pending();
        let g = self.inner.lock().unwrap();
        let config_version = g
            .versions
            .iter()
            .rev()
            .find(|v| matches!(v.view.state, VersionState::Running | VersionState::Pending))
            .map(|v| v.view.version)
            .unwrap_or(0);
        let link = |name: &str, role: &str, addr: &str, mac: &str| LinkView {
            name: name.into(),
            role: role.into(),
            mac: mac.into(),
            state: "up".into(),
            mtu: 1450,
            addresses: vec![addr.into()],
            rx_bytes: 123_456_789,
            tx_bytes: 98_765_432,
            rx_packets: 100_000,
            tx_packets: 90_000,
            errors: 0,
            drops: 3,
        };
        StatusView {
            name: "edge-test".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            uptime_secs: self.started.elapsed().as_secs() + 3725,
            interfaces: vec![
                link("ens3", "public", "192.168.10.5/24", "fa:16:3e:12:34:56"),
                link("ens4", "internal", "10.0.0.1/24", "fa:16:3e:65:43:21"),
            ],
            listeners: vec![ListenerView {
                name: "https".into(),
                bind: "0.0.0.0:443".into(),
                protocol: "tls".into(),
                active: g.conns.len() as u64,
                total: self.total.load(Ordering::SeqCst),
            }],
            config_version,
            pending: g.pending.map(|(version, d)| PendingView {
                version,
                deadline_secs: d.saturating_duration_since(Instant::now()).as_secs(),
            }),
            warnings: vec![],
            ha: None,
        }
    }

    fn routes(&self) -> Vec<RouteView> {
        let text = Self::running_text(&self.inner.lock().unwrap());
        let Ok(cfg) = parvis::config::parse(&text) else {
            return vec![];
        };
        cfg.routes
            .iter()
            .map(|r| RouteView {
                listener: r.listener.clone(),
                hosts: r.hosts.iter().map(|h| h.to_string()).collect(),
                backend: r.backend.clone(),
            })
            .collect()
    }

    fn backends(&self) -> Vec<BackendView> {
        vec![BackendView {
            name: "ingress-https".into(),
            balance: "least-conn".into(),
            proxy_protocol: "v2".into(),
            servers: vec![
                ServerView {
                    addr: "10.0.0.11:443".parse().unwrap(),
                    up: true,
                    drained: false,
                    active: 1,
                    total: 42,
                    bytes_in: 1_000_000,
                    bytes_out: 9_000_000,
                },
                ServerView {
                    addr: "10.0.0.12:443".parse().unwrap(),
                    up: false,
                    drained: false,
                    active: 0,
                    total: 7,
                    bytes_in: 2_000,
                    bytes_out: 3_000,
                },
            ],
        }]
    }

    fn connections(&self) -> Vec<ConnView> {
        let g = self.inner.lock().unwrap();
        g.conns
            .values()
            .map(|c| {
                let mut c = c.clone();
                c.age_ms = g
                    .opened
                    .get(&c.id)
                    .map(|t| t.elapsed().as_millis() as u64)
                    .unwrap_or(0);
                c
            })
            .collect()
    }

    fn series(&self) -> SeriesView {
        let now = now_unix();
        let points = (0..120u64)
            .map(|i| SeriesPoint {
                time: now - (119 - i) * 5,
                conn_rate: 20.0 + 15.0 * ((i as f64) / 9.0).sin().abs(),
                active: 30 + (i * 7 % 25),
            })
            .collect();
        SeriesView {
            interval_secs: 5,
            points,
        }
    }

    fn events(&self) -> Vec<EventView> {
        self.inner.lock().unwrap().events.clone()
    }

    fn config_text(&self) -> String {
        self.expire_pending();
        Self::running_text(&self.inner.lock().unwrap())
    }

    fn history(&self) -> Vec<VersionView> {
        self.expire_pending();
        self.inner
            .lock()
            .unwrap()
            .versions
            .iter()
            .map(|v| v.view.clone())
            .collect()
    }

    fn version_text(&self, version: u64) -> Option<String> {
        let g = self.inner.lock().unwrap();
        g.versions
            .get((version as usize).checked_sub(1)?)
            .map(|v| v.text.clone())
    }

    fn ruleset(&self) -> Result<RulesetView, ApiError> {
        Ok(RulesetView {
            text: "table inet parvis {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t\ttcp dport 443 counter packets 1200 bytes 96000 accept comment \"listener https\"\n\t}\n}\n".into(),
            counters: vec![RuleCounterView {
                chain: "input".into(),
                comment: "listener https".into(),
                packets: 1200,
                bytes: 96000,
            }],
        })
    }

    fn bans(&self) -> Result<Vec<BanView>, ApiError> {
        let g = self.inner.lock().unwrap();
        let now = Instant::now();
        Ok(g.bans
            .iter()
            .filter(|(_, t)| **t > now)
            .map(|(a, t)| BanView {
                addr: *a,
                expires_in_secs: t.duration_since(now).as_secs(),
                scope: Default::default(),
            })
            .collect())
    }

    fn ban_add(&self, addr: IpAddr, secs: u64) -> Result<(), ApiError> {
        self.ban_calls.lock().unwrap().push((addr, secs));
        self.inner
            .lock()
            .unwrap()
            .bans
            .insert(addr, Instant::now() + Duration::from_secs(secs));
        self.event("ban", &format!("{addr} banned for {secs}s"));
        Ok(())
    }

    fn login_ban(&self, addr: IpAddr, secs: u64) -> Result<(), ApiError> {
        self.login_ban_calls.lock().unwrap().push((addr, secs));
        self.event(
            "ban",
            &format!("{addr} banned from the admin port for {secs}s"),
        );
        Ok(())
    }

    fn ban_del(&self, addr: IpAddr) -> Result<(), ApiError> {
        match self.inner.lock().unwrap().bans.remove(&addr) {
            Some(_) => Ok(()),
            None => Err(ApiError::not_found(format!("addr: {addr} is not banned"))),
        }
    }

    fn apply(
        &self,
        req: ApplyRequest,
        author: Author,
    ) -> BoxFuture<'_, Result<ApplyOutcome, ApiError>> {
        Box::pin(async move {
            if let Err(e) = parvis::config::parse(&req.config) {
                return Err(ApiError::invalid_config(e.to_string()));
            }
            self.expire_pending();
            if self.inner.lock().unwrap().pending.is_some() && !req.force {
                return Err(ApiError::conflict(
                    "a change is pending confirmation: confirm or roll back first",
                ));
            }
            let old = self.config_text();
            let changes: Vec<String> = parvis::api::diff_text(&old, &req.config, "a", "b")
                .lines()
                .filter(|l| {
                    (l.starts_with('+') || l.starts_with('-'))
                        && !l.starts_with("+++")
                        && !l.starts_with("---")
                })
                .map(str::to_string)
                .collect();
            {
                let mut g = self.inner.lock().unwrap();
                for v in g.versions.iter_mut() {
                    if matches!(v.view.state, VersionState::Running | VersionState::Pending) {
                        v.view.state = VersionState::Superseded;
                    }
                }
            }
            let state = if req.confirm_within_secs.is_some() {
                VersionState::Pending
            } else {
                VersionState::Running
            };
            let version = self.record(&req.config, &author.to_string(), &req.comment, state);
            if let Some(s) = req.confirm_within_secs {
                self.inner.lock().unwrap().pending =
                    Some((version, Instant::now() + Duration::from_secs(s)));
            }
            self.event("apply", &format!("version {version} applied by {author}"));
            Ok(ApplyOutcome {
                version,
                pending_deadline_secs: req.confirm_within_secs,
                changes,
            })
        })
    }

    fn confirm(&self, author: Author) -> BoxFuture<'_, Result<ConfirmOutcome, ApiError>> {
        Box::pin(async move {
            self.expire_pending();
            let mut g = self.inner.lock().unwrap();
            let Some((v, _)) = g.pending.take() else {
                return Err(ApiError::conflict("nothing is pending confirmation"));
            };
            g.versions[(v - 1) as usize].view.state = VersionState::Running;
            drop(g);
            self.event("apply", &format!("version {v} confirmed by {author}"));
            Ok(ConfirmOutcome { version: v })
        })
    }

    fn rollback(
        &self,
        version: Option<u64>,
        author: Author,
    ) -> BoxFuture<'_, Result<ApplyOutcome, ApiError>> {
        Box::pin(async move {
            self.expire_pending();
            let target = {
                let g = self.inner.lock().unwrap();
                let running = g
                    .versions
                    .iter()
                    .rev()
                    .find(|v| matches!(v.view.state, VersionState::Running | VersionState::Pending))
                    .map(|v| v.view.version)
                    .unwrap_or(1);
                let target = version.unwrap_or(running.saturating_sub(1).max(1));
                if target == 0 || target as usize > g.versions.len() {
                    return Err(ApiError::field(
                        "version",
                        format!("no config version {target}"),
                    ));
                }
                g.versions[(target - 1) as usize].text.clone()
            };
            self.inner.lock().unwrap().pending = None;
            let req = ApplyRequest {
                config: target,
                comment: "rollback".into(),
                confirm_within_secs: None,
                force: true,
            };
            let out = self.apply(req, author).await?;
            Ok(out)
        })
    }
}
