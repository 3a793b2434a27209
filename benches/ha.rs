//! `make ha-bench`: failover figures of the pair in the `lab --ha` topology,
//! with real keepalived and conntrackd. Needs root. For each fault, N trials
//! (default 20) alternating the node that fails:
//!
//! - blackout: the client-side outage of new TLS connections through the
//!   floating IP (a TLS request starts every 50 ms in the client
//!   namespace, overlapping; `ha_probe`): from the start of the last success before the first
//!   failed attempt to the start of the first success after the last one;
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

#[path = "ha_probe.rs"]
mod ha_probe;
#[path = "../tests/ha_support/mod.rs"]
mod ha_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use ha_support::{wait_for, Pair};
use nix::sys::signal::Signal;
use parvis::lab::echo::within;
use parvis::lab::pair::ECHO_PORT;
use parvis::lab::pair_topology::{VIP_INTERNAL, VIP_PUBLIC};
use parvis::lab::FLOATING_IP;

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

/// The bench's use of [`ha_probe::Prober`]: a TLS request through the
/// floating IP every 50 ms.
type Prober = ha_probe::Prober;

impl Prober {
    fn any_ok(&self) -> bool {
        self.sorted().iter().any(|t| t.1)
    }

    /// The outage of the fault injected at `t0`, once the VIPs moved at
    /// `moved`: the longest run of failed attempts (by start) that started
    /// after `t0` − 0.5 s, from the start of the success before it to the
    /// start of the success after it; without a failure, the gap between
    /// the successes around `t0` (the probe's resolution). `None` until a
    /// success started 0.2 s after `moved` is known and every attempt
    /// started before it has ended (they time out after 0.5 s).
    fn blackout(&self, t0: Instant, moved: Instant) -> Option<Duration> {
        let tries = self.sorted();
        let settled = tries
            .iter()
            .find(|t| t.1 && t.0 > moved + Duration::from_millis(200))?;
        if settled.0.elapsed() < Duration::from_millis(700) {
            return None;
        }
        let from = t0.checked_sub(Duration::from_millis(500)).unwrap_or(t0);
        let (mut best, mut run): (Option<(usize, usize)>, Option<usize>) = (None, None);
        for (k, t) in tries.iter().enumerate() {
            match (t.1, run) {
                (false, None) if t.0 >= from => run = Some(k),
                (true, Some(first)) => {
                    if best.is_none_or(|(a, b)| k - first > b - a) {
                        best = Some((first, k));
                    }
                    run = None;
                }
                _ => {}
            }
        }
        let (first, after) = match best {
            Some((first, after)) => (first, after),
            None => {
                let after = tries.iter().position(|t| t.1 && t.0 > t0)?;
                (after, after)
            }
        };
        let before = tries[..first].iter().rev().find(|t| t.1)?;
        Some(tries[after].0.duration_since(before.0))
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
    undo(p, fault, m);
    wait_for("old master back as BACKUP", Duration::from_secs(30), || {
        p.role(m) == "BACKUP"
    });
}

/// Undoes the fault on node `m` (starts it again, resumes it, link up).
fn undo(p: &mut Pair, fault: &str, m: usize) {
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
}

struct Trial {
    blackout: Duration,
    survived: usize,
    opened: usize,
    split: Duration,
}

/// One trial; `None` (said on stderr) when the VIPs did not settle on the
/// backup within `deadline` — on a machine so loaded that a node's own
/// health check times out, the pair can flap during a trial.
/// The fault counts as moved once node `b` holds both VIPs and the
/// floating IP reaches it (at once in VRRP mode; after the PUT in neutron
/// mode).
fn trial(p: &mut Pair, fault: &str, conns: usize, deadline: Duration) -> Option<Trial> {
    let m = if p.role(0) == "MASTER" { 0 } else { 1 };
    let b = 1 - m;
    let mut held = open_conns(p, conns);
    wait_for(
        "the backup's conntrackd has every flow",
        Duration::from_secs(20),
        || synced(p, b, held.len()),
    );
    let prober = Prober::start(p.topo.client().name(), Duration::from_millis(50));
    wait_for("probe succeeds", Duration::from_secs(10), || {
        prober.any_ok()
    });
    let t0 = Instant::now();
    inject(p, fault, m);
    let mut split = Duration::ZERO;
    let mut last = Instant::now();
    let start = Instant::now();
    let mut moved = None;
    loop {
        let both = p.owners(VIP_PUBLIC).len() > 1 || p.owners(VIP_INTERNAL).len() > 1;
        let now = Instant::now();
        if both {
            split += now - last;
        }
        last = now;
        if moved.is_none() && p.sole_owner(b) && p.fip_on(b) {
            moved = Some(Instant::now());
        }
        if moved.is_some_and(|m| prober.blackout(t0, m).is_some()) {
            break;
        }
        if start.elapsed() > deadline {
            eprintln!("ha-bench: {fault}: the VIPs did not settle on the backup within {deadline:?}; trial not counted");
            drop(prober);
            undo(p, fault, m);
            wait_for("one MASTER and one BACKUP", Duration::from_secs(60), || {
                let roles = [p.role(0), p.role(1)];
                roles.contains(&"MASTER".into()) && roles.contains(&"BACKUP".into())
            });
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let blackout = moved
        .and_then(|m| prober.blackout(t0, m))
        .unwrap_or_default();
    let survived = surviving(&mut held);
    drop(prober);
    restore(p, fault, m);
    Some(Trial {
        blackout,
        survived,
        opened: held.len(),
        split,
    })
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
        "{:<9} {:>8} {:>8} {:>8} {:>12} {:>12} {:>8}",
        "fault", "p50 ms", "p95 ms", "max ms", "survived %", "split max ms", "trials"
    );
    for fault in &a.faults {
        let mut p = if a.neutron {
            Pair::start_neutron(a.api_delay, true, a.advert)
        } else {
            Pair::start(a.advert)
        };
        let mut results = Vec::new();
        let mut failed = 0;
        for _ in 0..a.trials {
            match trial(
                &mut p,
                fault,
                a.conns,
                a.advert * 6 + Duration::from_secs(10) + a.api_delay * 4,
            ) {
                Some(t) => results.push(t),
                None => failed += 1,
            }
        }
        let mut b: Vec<Duration> = results.iter().map(|r| r.blackout).collect();
        b.sort();
        let opened: usize = results.iter().map(|r| r.opened).sum();
        let survived: usize = results.iter().map(|r| r.survived).sum();
        let split = results.iter().map(|r| r.split).max().unwrap_or_default();
        println!(
            "{:<9} {:>8} {:>8} {:>8} {:>12.1} {:>12} {:>8}",
            fault,
            pct(&b, 0.5).as_millis(),
            pct(&b, 0.95).as_millis(),
            b.last().copied().unwrap_or_default().as_millis(),
            100.0 * survived as f64 / opened.max(1) as f64,
            split.as_millis(),
            format!("{}/{}", results.len(), results.len() + failed)
        );
    }
}
