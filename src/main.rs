//! The `parvis` binary: parses arguments, sets up logging and calls into the
//! library. Exit codes: 0 success, 1 runtime failure, 2 bad input.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use parvis::net;

#[derive(Parser)]
#[command(
    name = "parvis",
    version,
    about = "Router-firewall appliance for OpenStack"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a config without touching the system: prints `ok` or one line per problem.
    Check {
        /// The config file (TOML).
        #[arg(long)]
        config: PathBuf,
    },
    /// Network diagnostics (hidden: the daemon does this itself at start).
    #[command(hide = true)]
    Net {
        #[command(subcommand)]
        command: NetCommand,
    },
}

#[derive(Subcommand)]
enum NetCommand {
    /// Observe the links, plan the changes the config and metadata ask for,
    /// print them in `ip` terms and apply them.
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

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Command::Check { config } => check(&config),
        Command::Net {
            command:
                NetCommand::Plan {
                    config,
                    metadata,
                    dry_run,
                    watch,
                },
        } => net_plan(&config, metadata.as_deref(), dry_run, watch),
    }
}

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

/// A failure of `parvis net plan` with its exit code.
struct Failure(u8, anyhow::Error);

fn net_plan(config: &Path, metadata: Option<&Path>, dry_run: bool, watch: Option<u64>) -> ExitCode {
    let cfg = match parvis::config::load(config) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(net_plan_run(&cfg, metadata, dry_run, watch)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(code, e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(code)
        }
    }
}

async fn net_plan_run(
    cfg: &parvis::config::Config,
    dir: Option<&Path>,
    dry_run: bool,
    watch: Option<u64>,
) -> Result<(), Failure> {
    let bad = |e: anyhow::Error| Failure(2, e);
    let meta = match (&cfg.interfaces, dir) {
        (None, None) => None,
        (_, Some(_)) | (Some(_), None) => match net::metadata::discover(dir).await {
            Ok((meta, source)) => {
                println!("# metadata: {source}");
                Some(meta)
            }
            Err(e) if dir.is_some() => return Err(bad(e.into())),
            Err(e) => {
                eprintln!("warning: no OpenStack metadata: {e}");
                None
            }
        },
    };
    let observed = net::netlink::observe()
        .await
        .map_err(|e| Failure(1, e.into()))?;
    let roles = match &cfg.interfaces {
        Some(ifs) => net::resolve(ifs, &observed, meta.as_ref()).map_err(|e| bad(e.into()))?,
        None => net::Roles::default(),
    };
    for assignment in roles.iter() {
        println!("# {assignment}");
    }
    let changes = net::plan(cfg, &observed, meta.as_ref()).map_err(|e| bad(e.into()))?;
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
            .map_err(|e| Failure(1, e.into()))?;
        println!("# applied {} changes", changes.len());
    }
    if let Some(secs) = watch {
        watch_links(roles, secs).await.map_err(|e| Failure(1, e))?;
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
    // The first snapshot arrives once the event socket is subscribed.
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
                if changed.is_err() { break; }
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
