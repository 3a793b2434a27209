//! The `parvis` command line: parses arguments, sets up logging to stderr and
//! calls into the library. Exit codes: 0 success, 1 runtime failure, 2 bad
//! input (clap's own usage errors also exit 2).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use parvis::{control, daemon, firewall, firstboot, net};
#[cfg(feature = "lab")]
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
    /// The appliance daemon, in the foreground (SIGHUP reloads, SIGTERM drains).
    Serve(daemon::Options),
    /// Build a throwaway demo topology of network namespaces (needs root);
    /// Ctrl-C or SIGTERM removes it.
    #[cfg(feature = "lab")]
    Lab {
        /// Two appliances as an active/standby pair behind the floating IP.
        #[arg(long)]
        ha: bool,
        /// With --ha: the "neutron" failover mode, with a Keystone/Neutron
        /// stand-in that moves the floating IP.
        #[arg(long, requires = "ha")]
        neutron: bool,
        /// With --neutron: how long each API call takes, in ms.
        #[arg(long, default_value_t = 0, requires = "neutron")]
        api_delay_ms: u64,
    },
    /// The active/standby pair: status, planned handover.
    #[command(subcommand)]
    Ha(control::ha::HaCmd),
    /// The demo ingress backend used by the lab and the tests.
    #[cfg(feature = "lab")]
    #[command(hide = true)]
    DemoIngress(demo::Options),
    /// Set the admin password (read from stdin) in that config's state_dir.
    Passwd {
        /// The config file (TOML) whose `appliance.state_dir` gets the hash.
        #[arg(long)]
        config: std::path::PathBuf,
    },
    /// API tokens for scripts: create (shown once), list, revoke.
    #[command(subcommand)]
    Token(control::token::TokenCmd),
    /// The commands that ask the running daemon (status, apply, ...).
    #[command(flatten)]
    Control(control::cli::Command),
    /// Network diagnostics (hidden: the daemon does this itself at start).
    #[command(hide = true, subcommand)]
    Net(net::diag::NetCmd),
    /// Diagnostics of the nftables data path (hidden; the daemon does this itself).
    #[command(hide = true, subcommand)]
    Firewall(firewall::diag::FirewallCmd),
    /// What the image's first-boot script asks (hidden).
    #[command(hide = true, subcommand)]
    Firstboot(firstboot::FirstbootCmd),
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
        Cmd::Firewall(cmd) => return firewall::diag::run(cmd),
        Cmd::Serve(opts) => serve(opts).await,
        #[cfg(feature = "lab")]
        Cmd::Lab {
            ha,
            neutron,
            api_delay_ms,
        } => {
            run_lab(
                ha,
                neutron.then(|| std::time::Duration::from_millis(api_delay_ms)),
            )
            .await
        }
        Cmd::Ha(control::ha::HaCmd::Check { file, max_age_ms }) => {
            let age = std::time::Duration::from_millis(max_age_ms);
            parvis::ha::health::check(&file, age, std::time::SystemTime::now())
                .map_err(|why| (1, anyhow::anyhow!(why)))
        }
        Cmd::Ha(cmd) => control::ha::run(cmd)
            .await
            .map(|out| print!("{out}"))
            .map_err(|e| (e.exit_code(), e.into())),
        #[cfg(feature = "lab")]
        Cmd::DemoIngress(opts) => run_demo(opts).await,
        Cmd::Passwd { config } => passwd(&config),
        Cmd::Token(cmd) => token(cmd),
        Cmd::Control(cmd) => ask(cmd).await,
        Cmd::Firstboot(cmd) => firstboot::run(cmd).map_err(|(code, e)| (code, e.into())),
        Cmd::Net(cmd) => net::diag::run(cmd)
            .await
            .map_err(|e| (e.exit_code(), e.into())),
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

async fn serve(opts: daemon::Options) -> Result<(), Failure> {
    daemon::run(opts, std::future::pending())
        .await
        .map_err(|e| (if e.is_bad_input() { 2 } else { 1 }, e.into()))
}

#[cfg(feature = "lab")]
async fn run_lab(ha: bool, neutron: Option<std::time::Duration>) -> Result<(), Failure> {
    let shutdown = signals().map_err(|e| (1, e))?;
    let kind = match (ha, neutron) {
        (_, Some(delay)) => lab::LabKind::Neutron { delay },
        (true, None) => lab::LabKind::Pair,
        (false, None) => lab::LabKind::Single,
    };
    lab::run(kind, shutdown).await.map_err(|e| (1, e.into()))
}

#[cfg(feature = "lab")]
async fn run_demo(opts: demo::Options) -> Result<(), Failure> {
    let shutdown = signals().map_err(|e| (1, e))?;
    demo::serve(opts, shutdown).await.map_err(|e| match e {
        demo::DemoError::NoListener | demo::DemoError::ProxyMode(_) => (2, e.into()),
        other => (1, other.into()),
    })
}

/// One control-socket command: prints the daemon's answer.
async fn ask(cmd: control::cli::Command) -> Result<(), Failure> {
    match control::cli::run(cmd).await {
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

/// `parvis token ...`: edits the token file in the config's state_dir.
fn token(cmd: control::token::TokenCmd) -> Result<(), Failure> {
    use control::token::TokenCmdError;
    match control::token::run(cmd) {
        Ok(out) => {
            print!("{out}");
            Ok(())
        }
        Err(e @ TokenCmdError::Config(_)) => Err((2, e.into())),
        Err(e @ TokenCmdError::Store(parvis::api::tokens::TokenError::Token(_))) => {
            Err((2, e.into()))
        }
        Err(e) => Err((1, e.into())),
    }
}

/// A future that completes on SIGINT or SIGTERM. The handlers are installed
/// now, so a signal arriving before the future is polled is not lost.
#[cfg(feature = "lab")]
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
