//! The `parvis` command line: parses arguments, sets up logging to stderr and
//! calls into the library. Exit codes: 0 success, 1 runtime failure, 2 bad
//! input (clap's own usage errors also exit 2).

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use parvis::{demo, lab};

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
    /// Build a throwaway demo topology of network namespaces (needs root);
    /// Ctrl-C or SIGTERM removes it.
    Lab,
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
    /// The appliance daemon, in the foreground.
    Serve {
        /// The config file (TOML).
        #[arg(long)]
        config: std::path::PathBuf,
        /// Control socket path (not used yet).
        #[arg(long, default_value = "/run/parvis/control.sock")]
        socket: std::path::PathBuf,
        /// OpenStack metadata folder (not used yet).
        #[arg(long)]
        metadata: Option<std::path::PathBuf>,
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
        Cmd::Lab => run_lab().await,
        Cmd::Serve { config, .. } => run_serve(&config).await,
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

async fn run_lab() -> Result<(), Failure> {
    let shutdown = signals().map_err(|e| (1, e))?;
    lab::run(lab::Options::default(), shutdown)
        .await
        .map_err(|e| (1, e.into()))
}

async fn run_serve(path: &std::path::Path) -> Result<(), Failure> {
    // app::run handles SIGTERM (drain) and SIGHUP (reload) itself.
    parvis::app::run(path, std::future::pending())
        .await
        .map_err(|e| (if e.is_bad_input() { 2 } else { 1 }, e.into()))
}

async fn run_demo(opts: demo::Options) -> Result<(), Failure> {
    let shutdown = signals().map_err(|e| (1, e))?;
    demo::serve(opts, shutdown).await.map_err(|e| match e {
        demo::DemoError::NoListener | demo::DemoError::ProxyMode(_) => (2, e.into()),
        other => (1, other.into()),
    })
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
