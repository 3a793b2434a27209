//! `make ha-bench`: failover figures of the pair in the `lab --ha` topology,
//! with real keepalived and conntrackd. Needs root. For each fault, N trials
//! (default 20) alternating the node that fails:
//!
//! - blackout: the client-side gap in new TLS connections through the
//!   floating IP (a curl every 50 ms from the client namespace): from the
//!   last success before the fault to the first success after it;
//! - survival: of 500 established in-kernel forwarded connections (the echo
//!   forward, DNAT + SNAT to the internal VIP), the share that still echo
//!   after the failover;
//! - split brain: time during which both nodes hold a VIP (sampled every
//!   20 ms).
//!
//! `cargo bench --bench ha -- [--trials N] [--advert-ms MS] [--faults crash,hang,link,handover,node] [--conns N]
//! [--mode vrrp|neutron] [--api-delay-ms MS]`
//!
//! `--mode neutron`: the pair in the "neutron" failover mode, the router's
//! floating-IP NAT moved only by the Keystone/Neutron stand-in, each API
//! call taking `--api-delay-ms` (default 0).

#[path = "../tests/ha_neutron_support/mod.rs"]
mod ha_neutron_support;
#[path = "../tests/ha_support/mod.rs"]
mod ha_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ha_support::{wait_for, Pair};
use nix::sys::signal::Signal;
use parvis::lab::echo::within;
use parvis::lab::pair::ECHO_PORT;
use parvis::lab::pair_topology::{VIP_INTERNAL, VIP_PUBLIC};
use parvis::lab::{DEMO_HOSTS, FLOATING_IP};

struct Args {
    trials: usize,
    advert: Duration,
    faults: Vec<String>,
    conns: usize,
    neutron: bool,
    api_delay: Duration,
}

fn args() -> Args {
    let mut a = Args {
        trials: 20,
        advert: Duration::from_millis(1000),
        faults: ["crash", "hang", "link", "handover", "node"]
            .map(String::from)
            .to_vec(),
        conns: 500,
        neutron: false,
        api_delay: Duration::ZERO,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < v.len() {
        let next = v.get(i + 1).cloned().unwrap_or_default();
        match v[i].as_str() {
            "--trials" => a.trials = next.parse().expect("--trials N"),
            "--advert-ms" => {
                a.advert = Duration::from_millis(next.parse().expect("--advert-ms MS"))
            }
            "--faults" => a.faults = next.split(',').map(String::from).collect(),
            "--conns" => a.conns = next.parse().expect("--conns N"),
            "--mode" => a.neutron = next == "neutron",
            "--api-delay-ms" => {
                a.api_delay = Duration::from_millis(next.parse().expect("--api-delay-ms MS"))
            }
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    a
}

/// New-connection prober: timestamps of successes, from a thread in the client.
struct Prober {
    ok: Arc<Mutex<Vec<Instant>>>,
    stop: Arc<AtomicBool>,
}

impl Prober {
    fn start(p: &Pair) -> Prober {
        let ok = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (o, s) = (ok.clone(), stop.clone());
        let ns = p.topo.client().name().to_string();
        std::thread::spawn(move || {
            let [h, _] = DEMO_HOSTS;
            let resolve = format!("{h}:443:{FLOATING_IP}");
            let url = format!("https://{h}/");
            while !s.load(Ordering::SeqCst) {
                let t = Instant::now();
                let out = std::process::Command::new("ip")
                    .args([
                        "netns",
                        "exec",
                        &ns,
                        "curl",
                        "-sk",
                        "--max-time",
                        "0.5",
                        "--resolve",
                        &resolve,
                        &url,
                    ])
                    .output();
                if out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("ingress=")) {
                    o.lock().expect("lock").push(Instant::now());
                }
                std::thread::sleep(Duration::from_millis(50).saturating_sub(t.elapsed()));
            }
        });
        Prober { ok, stop }
    }
    /// The longest gap between successes from the last one before `t` to
    /// the first one after `done` (the old master may serve on after the
    /// fault until the floating IP moves, in the "neutron" mode).
    fn longest_gap(&self, t: Instant, done: Instant) -> Option<Duration> {
        let ok = self.ok.lock().expect("lock");
        let first = ok.iter().rposition(|x| *x <= t)?;
        let last = ok.iter().position(|x| *x > done)?;
        ok[first..=last]
            .windows(2)
            .map(|w| w[1].duration_since(w[0]))
            .max()
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn open_conns(p: &Pair, n: usize) -> Vec<TcpStream> {
    let conns = within(p.topo.client(), move || {
        (0..n)
            .filter_map(|_| {
                TcpStream::connect_timeout(&(FLOATING_IP, ECHO_PORT).into(), Duration::from_secs(2))
                    .ok()
            })
            .collect::<Vec<_>>()
    })
    .expect("client ns");
    for mut c in &conns {
        let _ = c.set_read_timeout(Some(Duration::from_secs(3)));
        let _ = c.write_all(b"x");
        let mut b = [0u8; 1];
        let _ = c.read_exact(&mut b);
    }
    conns
}

fn surviving(conns: &mut [TcpStream]) -> usize {
    conns.iter_mut().for_each(|c| drop(c.write_all(b"y")));
    let mut n = 0;
    for c in conns.iter_mut() {
        let mut b = [0u8; 1];
        if c.read_exact(&mut b).is_ok() && b[0] == b'y' {
            n += 1;
        }
    }
    n
}

fn synced(p: &Pair, backup: usize, n: usize) -> bool {
    let conf = p
        .dir
        .path()
        .join(format!("{}/state/ha/conntrackd.conf", ["a", "b"][backup]));
    p.topo
        .node(backup)
        .run(&["conntrackd", "-C", &conf.to_string_lossy(), "-e", "ct"])
        .is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| l.contains(&format!("dport={ECHO_PORT}")))
                .count()
                >= n
        })
}

/// keepalived's pids of node `i`, from its pid files.
fn keepalived_pids(p: &Pair, i: usize) -> Vec<i32> {
    let ha = p.dir.path().join(format!("{}/state/ha", ["a", "b"][i]));
    ["keepalived-vrrp.pid", "keepalived.pid"]
        .iter()
        .filter_map(|f| {
            std::fs::read_to_string(ha.join(f))
                .ok()?
                .trim()
                .parse()
                .ok()
        })
        .collect()
}

fn inject(p: &mut Pair, fault: &str, m: usize) {
    match fault {
        "crash" => p.signal(m, Signal::SIGKILL),
        "hang" => p.signal(m, Signal::SIGSTOP),
        "link" => p.link_down(m),
        "handover" => {
            let sock = p.socket(m);
            std::thread::spawn(move || {
                let _ = std::process::Command::new(ha_support::exe())
                    .args(["ha", "handover", "--socket"])
                    .arg(sock)
                    .output();
            });
        }
        "node" => {
            // The whole VM dies: keepalived gets no chance to send priority 0.
            for pid in keepalived_pids(p, m) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
            }
            p.signal(m, Signal::SIGKILL);
            // Its addresses stay on the dead "VM"'s links: take them down as a dead VM's would be.
            drop(p.topo.node(m).ip(&["link", "set", "ens3", "down"]));
            drop(p.topo.node(m).ip(&["link", "set", "ens4", "down"]));
        }
        other => panic!("unknown fault {other}"),
    }
}

fn restore(p: &mut Pair, fault: &str, m: usize) {
    match fault {
        "crash" => p.start_node(m),
        "hang" => p.signal(m, Signal::SIGCONT),
        "link" => p.link_up(m),
        "node" => {
            drop(p.topo.node(m).ip(&["link", "set", "ens4", "up"]));
            p.link_up(m);
            for vip in [VIP_PUBLIC, VIP_INTERNAL] {
                for dev in ["ens3", "ens4"] {
                    let _ = p
                        .topo
                        .node(m)
                        .ip(&["addr", "del", &format!("{vip}/24"), "dev", dev]);
                }
            }
            p.start_node(m);
        }
        _ => {}
    }
    wait_for("old master back as BACKUP", Duration::from_secs(30), || {
        p.role(m) == "BACKUP"
    });
}

struct Trial {
    blackout: Duration,
    survived: usize,
    opened: usize,
    split: Duration,
}

/// `moved(b)`: the floating IP points at node `b` (always, in VRRP mode).
fn trial(
    p: &mut Pair,
    fault: &str,
    conns: usize,
    deadline: Duration,
    moved: &dyn Fn(usize) -> bool,
) -> Trial {
    let m = if p.role(0) == "MASTER" { 0 } else { 1 };
    let b = 1 - m;
    let mut held = open_conns(p, conns);
    wait_for(
        "the backup's conntrackd has every flow",
        Duration::from_secs(20),
        || synced(p, b, held.len()),
    );
    let prober = Prober::start(p);
    wait_for("probe succeeds", Duration::from_secs(10), || {
        !prober.ok.lock().expect("lock").is_empty()
    });
    let t0 = Instant::now();
    inject(p, fault, m);
    let mut split = Duration::ZERO;
    let mut last = Instant::now();
    let start = Instant::now();
    let mut done: Option<Instant> = None;
    loop {
        let both = p.owners(VIP_PUBLIC).len() > 1 || p.owners(VIP_INTERNAL).len() > 1;
        let now = Instant::now();
        if both {
            split += now - last;
        }
        last = now;
        if done.is_none() && p.sole_owner(b) && moved(b) {
            done = Some(Instant::now());
        }
        if let Some(d) = done {
            if prober.longest_gap(t0, d).is_some() {
                break;
            }
        }
        assert!(
            start.elapsed() < deadline,
            "{fault}: no failover within {deadline:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let blackout = done
        .and_then(|d| prober.longest_gap(t0, d))
        .unwrap_or_default();
    let survived = surviving(&mut held);
    drop(prober);
    restore(p, fault, m);
    Trial {
        blackout,
        survived,
        opened: held.len(),
        split,
    }
}

fn pct(sorted: &[Duration], q: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn main() {
    let a = args();
    ha_support::require_root();
    println!(
        "ha-bench: advert {} ms, {} trials per fault, {} held forwarded connections, mode {}",
        a.advert.as_millis(),
        a.trials,
        a.conns,
        if a.neutron {
            format!("neutron (API {} ms per call)", a.api_delay.as_millis())
        } else {
            "vrrp".into()
        }
    );
    println!(
        "{:<9} {:>8} {:>8} {:>8} {:>12} {:>12}",
        "fault", "p50 ms", "p95 ms", "max ms", "survived %", "split max ms"
    );
    for fault in &a.faults {
        let (mut p, _api) = if a.neutron {
            let n = ha_neutron_support::NPair::start_with(a.api_delay, true, a.advert);
            (n.p, Some(n.api))
        } else {
            (Pair::start(a.advert), None)
        };
        let mut results = Vec::new();
        for _ in 0..a.trials {
            results.push(trial(
                &mut p,
                fault,
                a.conns,
                a.advert * 6 + Duration::from_secs(10) + a.api_delay * 4,
                &|b| {
                    _api.as_ref().is_none_or(|api| {
                        api.world().port.as_deref() == Some(parvis::lab::neutron::PORT_IDS[b])
                    })
                },
            ));
        }
        let mut b: Vec<Duration> = results.iter().map(|r| r.blackout).collect();
        b.sort();
        let opened: usize = results.iter().map(|r| r.opened).sum();
        let survived: usize = results.iter().map(|r| r.survived).sum();
        let split = results.iter().map(|r| r.split).max().unwrap_or_default();
        println!(
            "{:<9} {:>8} {:>8} {:>8} {:>12.1} {:>12}",
            fault,
            pct(&b, 0.5).as_millis(),
            pct(&b, 0.95).as_millis(),
            b.last().copied().unwrap_or_default().as_millis(),
            100.0 * survived as f64 / opened.max(1) as f64,
            split.as_millis()
        );
    }
}
