//! The `parvis` command line: parses arguments, sets up logging to stderr and
//! calls into the library. Exit codes: 0 success, 1 runtime failure, 2 bad
//! input (clap's own usage errors also exit 2).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use parvis::control::cli::Command as ControlCmd;
use parvis::{demo, lab, net};

#[derive(Parser)]
#[command(
    name = "parvis",
    version,
    about = "Router-firewall appliance for OpenStack"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Validate a config without touching the system: prints `ok` or one line per problem.
    Check {
        /// The config file (TOML).
        #[arg(long)]
        config: std::path::PathBuf,
    },
    /// The appliance daemon, in the foreground (SIGHUP reloads, SIGTERM drains).
    Serve {
        /// The config file (TOML); missing: the OpenStack user data, else a safe default.
        #[arg(long)]
        config: PathBuf,
        /// The control socket for the CLI.
        #[arg(long, default_value = parvis::control::DEFAULT_SOCKET)]
        socket: PathBuf,
        /// Read OpenStack metadata from this config-drive-like folder.
        #[arg(long)]
        metadata: Option<PathBuf>,
        /// State folder; overrides the config's `appliance.state_dir` (default /var/lib/parvis).
        #[arg(long)]
        state_dir: Option<PathBuf>,
    },
    /// Build a throwaway demo topology of network namespaces (needs root);
    /// Ctrl-C or SIGTERM removes it.
    Lab {
        /// Two appliances as an active/standby pair behind the floating IP.
        #[arg(long)]
        ha: bool,
    },
    /// The active/standby pair: status, planned handover.
    #[command(subcommand)]
    Ha(HaCmd),
    /// The demo ingress backend used by the lab and the tests.
    #[command(hide = true)]
    DemoIngress {
        /// Name reported in every answer.
        #[arg(long)]
        name: String,
        /// Terminate TLS here (self-signed certificate).
        #[arg(long, value_name = "ADDR:PORT")]
        tls: Option<SocketAddr>,
        /// Serve plain HTTP/1.1 here.
        #[arg(long, value_name = "ADDR:PORT")]
        http: Option<SocketAddr>,
        /// PROXY header handling: required, optional or off.
        #[arg(long, default_value = "optional")]
        proxy: demo::ProxyMode,
        /// Certificate host names, comma separated.
        #[arg(long, value_delimiter = ',')]
        hosts: Vec<String>,
    },
    /// Set the admin password (read from stdin) in that config's state_dir.
    Passwd {
        /// The config file (TOML) whose `appliance.state_dir` gets the hash.
        #[arg(long)]
        config: std::path::PathBuf,
    },
    /// Show the appliance: name, version, uptime, ports, listeners.
    Status(Ask),
    /// Show routes and backends with server health.
    Routes(Ask),
    /// Show live connections.
    Conns(Ask),
    /// Show the nftables ruleset with per-rule counters.
    Ruleset(Ask),
    /// Show the config history.
    History(Ask),
    /// Apply a new config to the running daemon.
    Apply {
        /// The new config file (TOML).
        #[arg(long)]
        config: std::path::PathBuf,
        /// Roll back by itself unless `parvis confirm` arrives within SECS.
        #[arg(long, value_name = "SECS")]
        confirm_within: Option<u64>,
        /// A comment for the history.
        #[arg(long)]
        comment: Option<String>,
        /// Override safety refusals (never an invalid config).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        ask: Ask,
    },
    /// Confirm a pending change.
    Confirm(Ask),
    /// Go back to VERSION, or to the version before the running one.
    Rollback {
        /// The config version to go back to.
        version: Option<u64>,
        #[command(flatten)]
        ask: Ask,
    },
    /// Network diagnostics (hidden: the daemon does this itself at start).
    #[command(hide = true)]
    Net {
        #[command(subcommand)]
        command: NetCmd,
    },
    /// Diagnostics of the nftables data path (hidden; the daemon does this itself).
    #[command(hide = true, subcommand)]
    Firewall(parvis::firewall::diag::FirewallCmd),
}

/// How to reach the running daemon.
#[derive(clap::Args)]
struct Ask {
    /// The daemon's control socket.
    #[arg(long, default_value = parvis::control::DEFAULT_SOCKET)]
    socket: std::path::PathBuf,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum HaCmd {
    /// This node's role, the peer, the last transition and its cause.
    Status(Ask),
    /// Planned switch: the peer takes both VIPs, this node stands by as BACKUP.
    Handover(Ask),
    /// keepalived's health script: exit 0 when the daemon's health file
    /// says "ok" and is fresh (hidden).
    #[command(hide = true)]
    Check {
        /// The health file.
        #[arg(long)]
        file: PathBuf,
        /// Older than this (milliseconds) counts as a hung daemon.
        #[arg(long, default_value_t = 1000)]
        max_age_ms: u64,
    },
}

#[derive(Subcommand)]
enum NetCmd {
    /// Observe the links, plan what the config and the OpenStack metadata
    /// ask for, print it in `ip` terms and apply it.
    Plan {
        /// The config file (TOML).
        #[arg(long)]
        config: PathBuf,
        /// A folder laid out like a config drive, instead of the drive or the metadata service.
        #[arg(long)]
        metadata: Option<PathBuf>,
        /// Print the plan, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Afterwards, print link events for this many seconds, then the live state.
        #[arg(long, value_name = "SECS")]
        watch: Option<u64>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let result = match cli.command {
        Cmd::Check { config } => return check(&config),
        Cmd::Firewall(cmd) => return parvis::firewall::diag::run(cmd),
        Cmd::Serve {
            config,
            socket,
            metadata,
            state_dir,
        } => {
            serve(parvis::daemon::Options {
                config,
                socket,
                metadata,
                state_dir,
            })
            .await
        }
        Cmd::Lab { ha } => run_lab(ha).await,
        Cmd::Ha(cmd) => ha(cmd).await,
        Cmd::DemoIngress {
            name,
            tls,
            http,
            proxy,
            hosts,
        } => {
            let opts = demo::Options {
                name,
                tls,
                http,
                proxy,
                hosts,
            };
            run_demo(opts).await
        }
        Cmd::Passwd { config } => passwd(&config),
        Cmd::Status(a) => ask(ControlCmd::Status, a).await,
        Cmd::Routes(a) => ask(ControlCmd::Routes, a).await,
        Cmd::Conns(a) => ask(ControlCmd::Conns, a).await,
        Cmd::Ruleset(a) => ask(ControlCmd::Ruleset, a).await,
        Cmd::History(a) => ask(ControlCmd::History, a).await,
        Cmd::Confirm(a) => ask(ControlCmd::Confirm, a).await,
        Cmd::Rollback { version, ask: a } => ask(ControlCmd::Rollback { version }, a).await,
        Cmd::Apply {
            config,
            confirm_within,
            comment,
            force,
            ask: a,
        } => {
            let cmd = ControlCmd::Apply {
                config,
                confirm_within,
                comment,
                force,
            };
            ask(cmd, a).await
        }
        Cmd::Net {
            command:
                NetCmd::Plan {
                    config,
                    metadata,
                    dry_run,
                    watch,
                },
        } => net_plan(&config, metadata.as_deref(), dry_run, watch).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, err)) => {
            eprintln!("parvis: {err:#}");
            ExitCode::from(code)
        }
    }
}

type Failure = (u8, anyhow::Error);

async fn serve(opts: parvis::daemon::Options) -> Result<(), Failure> {
    parvis::daemon::run(opts, std::future::pending())
        .await
        .map_err(|e| (if e.is_bad_input() { 2 } else { 1 }, e.into()))
}

async fn run_lab(ha: bool) -> Result<(), Failure> {
    let shutdown = signals().map_err(|e| (1, e))?;
    let run = if ha {
        lab::pair::run(shutdown).await
    } else {
        lab::appliance::run(shutdown).await
    };
    run.map_err(|e| (1, e.into()))
}

/// `parvis ha ...`
async fn ha(cmd: HaCmd) -> Result<(), Failure> {
    let out = match cmd {
        HaCmd::Status(a) => parvis::control::ha::status(&a.socket, a.json).await,
        HaCmd::Handover(a) => parvis::control::ha::handover(&a.socket).await,
        HaCmd::Check { file, max_age_ms } => {
            let age = Duration::from_millis(max_age_ms);
            return parvis::ha::health::check(&file, age, std::time::SystemTime::now())
                .map_err(|why| (1, anyhow::anyhow!(why)));
        }
    };
    match out {
        Ok(text) => {
            print!("{text}");
            Ok(())
        }
        Err(e) => Err((e.exit_code(), e.into())),
    }
}

async fn run_demo(opts: demo::Options) -> Result<(), Failure> {
    let shutdown = signals().map_err(|e| (1, e))?;
    demo::serve(opts, shutdown).await.map_err(|e| match e {
        demo::DemoError::NoListener | demo::DemoError::ProxyMode(_) => (2, e.into()),
        other => (1, other.into()),
    })
}

/// One control-socket command: prints the daemon's answer.
async fn ask(cmd: ControlCmd, a: Ask) -> Result<(), Failure> {
    match parvis::control::cli::run(cmd, &a.socket, a.json).await {
        Ok(out) => {
            print!("{out}");
            Ok(())
        }
        Err(e) => Err((e.exit_code(), e.into())),
    }
}

/// `parvis passwd`: one line from stdin, hashed into the config's state_dir.
fn passwd(config: &std::path::Path) -> Result<(), Failure> {
    let cfg = parvis::config::load(config).map_err(|e| (2, e.into()))?;
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(|e| {
        (
            1,
            anyhow::anyhow!("cannot read the password from stdin: {e}"),
        )
    })?;
    let password = line.trim_end_matches(['\r', '\n']);
    match parvis::admin::auth::set_password(&cfg.appliance.state_dir, password) {
        Ok(path) => {
            println!("password hash stored in {}", path.display());
            Ok(())
        }
        Err(e @ parvis::admin::AdminError::Password(_)) => Err((2, e.into())),
        Err(e) => Err((1, e.into())),
    }
}

/// A future that completes on SIGINT or SIGTERM. The handlers are installed
/// now, so a signal arriving before the future is polled is not lost.
fn signals() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

/// `parvis check`: `ok`, or one line per problem on stdout and exit 2.
fn check(path: &std::path::Path) -> ExitCode {
    match parvis::config::load(path) {
        Ok(_) => {
            println!("ok");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("{e}");
            ExitCode::from(2)
        }
    }
}

/// `parvis net plan`: observe, plan, print, apply unless `dry_run`, then
/// optionally watch. Bad config, metadata or roles exit 2; netlink failures 1.
async fn net_plan(
    config: &Path,
    dir: Option<&Path>,
    dry_run: bool,
    watch: Option<u64>,
) -> Result<(), Failure> {
    let bad = |e: anyhow::Error| (2, e);
    let cfg = parvis::config::load(config).map_err(|e| bad(e.into()))?;
    let meta = if cfg.interfaces.is_none() && dir.is_none() {
        None
    } else {
        match net::metadata::discover(dir).await {
            Ok((meta, source)) => {
                println!("# metadata: {source}");
                Some(meta)
            }
            Err(e) if dir.is_some() => return Err(bad(e.into())),
            Err(e) => {
                eprintln!("warning: no OpenStack metadata: {e}");
                None
            }
        }
    };
    let observed = net::netlink::observe().await.map_err(|e| (1, e.into()))?;
    let roles = match &cfg.interfaces {
        Some(ifs) => net::resolve(ifs, &observed, meta.as_ref()).map_err(|e| bad(e.into()))?,
        None => net::Roles::default(),
    };
    for assignment in roles.iter() {
        println!("# {assignment}");
    }
    let changes = net::plan(&cfg, &observed, meta.as_ref()).map_err(|e| bad(e.into()))?;
    for change in &changes {
        println!("{change}");
    }
    if changes.is_empty() {
        println!("# nothing to change");
    } else if dry_run {
        println!("# dry run: nothing applied");
    } else {
        net::netlink::apply(&changes)
            .await
            .map_err(|e| (1, e.into()))?;
        println!("# applied {} changes", changes.len());
    }
    if let Some(secs) = watch {
        watch_links(roles, secs).await.map_err(|e| (1, e))?;
    }
    Ok(())
}

/// Prints link events for `secs` seconds, then the live state.
async fn watch_links(roles: net::Roles, secs: u64) -> anyhow::Result<()> {
    use std::io::Write;
    let (tx, mut rx) = tokio::sync::watch::channel(Vec::new());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(net::watch(roles, tx, Duration::from_secs(2), async {
        let _ = stopped.await;
    }));
    // The first snapshot comes once the event socket is subscribed.
    if rx.changed().await.is_err() {
        task.await??;
        anyhow::bail!("the link watch stopped before its first snapshot");
    }
    let mut last = rx.borrow_and_update().clone();
    println!("# watching for {secs} s");
    std::io::stdout().flush()?;
    let deadline = tokio::time::sleep(Duration::from_secs(secs));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            () = &mut deadline => break,
            changed = rx.changed() => {
                if changed.is_err() {
                    break;
                }
                let now = rx.borrow_and_update().clone();
                for event in net::link_events(&last, &now) {
                    println!("event: {event}");
                }
                std::io::stdout().flush()?;
                last = now;
            }
        }
    }
    let _ = stop.send(());
    task.await??;
    for link in &last {
        println!("link: {link}");
    }
    Ok(())
}
