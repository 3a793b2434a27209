//! The `parvis` binary: parses arguments, sets up logging and calls into the
//! library. Exit codes: 0 success, 1 runtime failure, 2 bad input.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use parvis::control::cli::Command as ControlCmd;

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
    /// Set the admin password (read from stdin) in that config's state_dir.
    Passwd {
        /// The config file (TOML) whose `appliance.state_dir` gets the hash.
        #[arg(long)]
        config: PathBuf,
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
        config: PathBuf,
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
}

/// How to reach the running daemon.
#[derive(clap::Args)]
struct Ask {
    /// The daemon's control socket.
    #[arg(long, default_value = parvis::control::DEFAULT_SOCKET)]
    socket: PathBuf,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
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
        Command::Passwd { config } => passwd(&config),
        Command::Status(a) => ask(ControlCmd::Status, a),
        Command::Routes(a) => ask(ControlCmd::Routes, a),
        Command::Conns(a) => ask(ControlCmd::Conns, a),
        Command::Ruleset(a) => ask(ControlCmd::Ruleset, a),
        Command::History(a) => ask(ControlCmd::History, a),
        Command::Confirm(a) => ask(ControlCmd::Confirm, a),
        Command::Rollback { version, ask: a } => ask(ControlCmd::Rollback { version }, a),
        Command::Apply {
            config,
            confirm_within,
            comment,
            force,
            ask: a,
        } => ask(
            ControlCmd::Apply {
                config,
                confirm_within,
                comment,
                force,
            },
            a,
        ),
    }
}

/// Runs one control-socket command and prints its answer.
fn ask(cmd: ControlCmd, a: Ask) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("parvis: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(parvis::control::cli::run(cmd, &a.socket, a.json)) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("parvis: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// `parvis passwd`: one line from stdin, hashed into the config's state_dir.
fn passwd(config: &std::path::Path) -> ExitCode {
    let cfg = match parvis::config::load(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut line = String::new();
    if let Err(e) = std::io::stdin().read_line(&mut line) {
        eprintln!("parvis: cannot read the password from stdin: {e}");
        return ExitCode::from(1);
    }
    let password = line.trim_end_matches(['\r', '\n']);
    match parvis::admin::auth::set_password(&cfg.appliance.state_dir, password) {
        Ok(path) => {
            println!("password hash stored in {}", path.display());
            ExitCode::SUCCESS
        }
        Err(e @ parvis::admin::AdminError::Password(_)) => {
            eprintln!("parvis: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("parvis: {e}");
            ExitCode::from(1)
        }
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
