//! `cargo bench --bench forwarder` (as root): parvis, HAProxy, nginx and a
//! direct connection, one after another on the same lab topology, same
//! backends, same client load; prints one table side by side.
//!
//! Does I/O: builds the lab (network namespaces), starts backends and
//! forwarders in it, re-executes itself as the load generator in the
//! client namespace (`--client ...`) and as the bulk/idle backend in an
//! ingress namespace (`--backend ADDR`). Without `--bench` (as under
//! `cargo test --all-targets`) it only checks its pure parts and exits.
//!
//! Environment: `PARVIS_BENCH_SECS` (5), `PARVIS_BENCH_ROUNDS` (3; the
//! contenders take turns, each figure is the median over the rounds, so
//! that a burst of other work on the machine does not hit one column only),
//! `PARVIS_BENCH_WORKERS` (64),
//! `PARVIS_BENCH_RATE` (500/s), `PARVIS_BENCH_IDLE` (7500),
//! `PARVIS_BENCH_ONLY` (e.g. `direct,haproxy`), `PARVIS_BENCH_KEEP` (keep
//! the temp dir with configs and logs), `PARVIS_BIN` (the parvis
//! binary; default the one cargo built with this bench).

mod backend;
mod checks;
mod hello;
mod load;
mod measure;
mod peers;
mod procfs;
mod report;
mod running;

use std::path::PathBuf;
use std::process::ExitCode;

use parvis::lab::{Options, Topology};

use peers::Contender;
use report::{Figures, Params};

/// The run's knobs, from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Seconds per measurement.
    pub secs: u64,
    /// Rounds; the contenders take turns in each.
    pub rounds: u64,
    /// Closed-loop workers of the connection-rate run.
    pub workers: u64,
    /// Connections per second of the latency run.
    pub rate: u64,
    /// Idle connections of the memory run.
    pub idle: u64,
    /// Contenders to run, in table order.
    pub only: Vec<Contender>,
    /// The parvis binary.
    pub parvis: PathBuf,
    /// This binary, re-executed as client and backend.
    pub exe: PathBuf,
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

impl Settings {
    fn from_env() -> Result<Settings, String> {
        let only = match std::env::var("PARVIS_BENCH_ONLY") {
            Ok(list) => Contender::ALL
                .into_iter()
                .filter(|c| list.split(',').any(|n| n.trim() == c.name()))
                .collect(),
            Err(_) => Contender::ALL.to_vec(),
        };
        let parvis = std::env::var_os("PARVIS_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_parvis")));
        Ok(Settings {
            secs: env_u64("PARVIS_BENCH_SECS", 5).max(1),
            rounds: env_u64("PARVIS_BENCH_ROUNDS", 3).max(1),
            workers: env_u64("PARVIS_BENCH_WORKERS", 64).max(1),
            rate: env_u64("PARVIS_BENCH_RATE", 500).max(1),
            idle: env_u64("PARVIS_BENCH_IDLE", 7500),
            only,
            parvis,
            exe: std::env::current_exe().map_err(|e| format!("current exe: {e}"))?,
        })
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("--client") => client(&args[1..]),
        Some("--backend") => data_backend(&args[1..]),
        _ if args.iter().any(|a| a == "--bench") => bench(),
        _ => checks::run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("forwarder bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `/proc/loadavg`'s first three fields, to show how busy the machine was.
fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))
}

/// `--client MODE ADDR SNI SECS PARAM`: one load run, JSON on stdout.
fn client(args: &[String]) -> Result<(), String> {
    let value = runtime()?
        .block_on(load::run(args))
        .map_err(|e| e.to_string())?;
    if !value.is_null() {
        println!("{value}");
    }
    Ok(())
}

/// `--backend IP`: the bulk and idle backends, until killed.
fn data_backend(args: &[String]) -> Result<(), String> {
    let ip = args
        .first()
        .and_then(|a| a.parse().ok())
        .ok_or("usage: --backend IP")?;
    runtime()?
        .block_on(backend::serve(ip))
        .map_err(|e| format!("backend: {e}"))
}

/// The whole comparison.
fn bench() -> Result<(), String> {
    let s = Settings::from_env()?;
    measure::raise_open_files();
    let parvis_ok = peers::parvis_can_serve(&s.parvis);
    let topo = Topology::build(Options::default()).map_err(|e| e.to_string())?;
    let mut dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    if std::env::var_os("PARVIS_BENCH_KEEP").is_some() {
        dir.disable_cleanup(true);
        eprintln!("configs and logs kept in {}", dir.path().display());
    }
    let hello = peers::start_hello_backend(&topo, dir.path()).map_err(|e| e.to_string())?;
    let data = peers::start_data_backend(&topo, &s.exe).map_err(|e| e.to_string())?;
    eprintln!(
        "lab up ({}); {} rounds of {} s per run, {} workers, latency at {}/s, {} idle connections; load average {}",
        topo.client().name(),
        s.rounds,
        s.secs,
        s.workers,
        s.rate,
        s.idle,
        load_average()
    );
    let who_runs: Vec<Contender> = s
        .only
        .iter()
        .copied()
        .filter(|c| *c != Contender::Parvis || parvis_ok)
        .collect();
    let mut rounds: Vec<Vec<Figures>> = vec![Vec::new(); who_runs.len()];
    for r in 1..=s.rounds {
        for (i, who) in who_runs.iter().enumerate() {
            eprintln!(
                "== round {r}/{}: {} (load average {})",
                s.rounds,
                who.name(),
                load_average()
            );
            let with_idle = r == s.rounds;
            rounds[i].push(measure::round(*who, &topo, dir.path(), &s, with_idle));
        }
    }
    let mut cols: Vec<Figures> = rounds.iter().map(|r| report::combine(r)).collect();
    if s.only.contains(&Contender::Parvis) && !parvis_ok {
        cols.push(Figures {
            name: Contender::Parvis.name().into(),
            notes: vec![format!(
                "{} has no working `serve`: not run",
                s.parvis.display()
            )],
            ..Figures::default()
        });
    }
    drop((data, hello));
    let params = Params {
        workers: s.workers,
        idle: s.idle,
        latency_rate: s.rate,
    };
    println!("\n{}", report::table(&cols, params));
    let who = if parvis_ok { "parvis" } else { "nginx" };
    println!("{}", report::ratios(&cols, who));
    println!("load average after the run: {}", load_average());
    for f in &cols {
        for n in &f.notes {
            println!("note ({}): {n}", f.name);
        }
    }
    Ok(())
}
