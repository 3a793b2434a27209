//! The `parvis` binary: parses arguments, sets up logging and calls into the
//! library. Exit codes: 0 success, 1 runtime failure, 2 bad input.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    /// Diagnostics of the nftables data path (hidden; the daemon does this itself).
    #[command(hide = true, subcommand)]
    Firewall(FirewallCmd),
}

#[derive(Subcommand)]
enum FirewallCmd {
    /// Print the nft JSON that `apply` would load.
    Render {
        #[arg(long)]
        config: PathBuf,
    },
    /// Set the sysctls and replace `table inet parvis` in this network namespace.
    Apply {
        #[arg(long)]
        config: PathBuf,
        /// Test hook: add a rule the kernel refuses, to prove a refused batch changes nothing.
        #[arg(long, hide = true)]
        inject_invalid_rule: bool,
    },
    /// List the banned sources: `ADDR SECONDS-LEFT` per line.
    Bans,
    /// Ban a source by hand.
    Ban {
        addr: std::net::IpAddr,
        /// Seconds.
        #[arg(long = "for")]
        secs: u64,
    },
    /// Lift a ban.
    Unban { addr: std::net::IpAddr },
    /// List the blocked prefixes as loaded.
    Blocked,
    /// Per-rule counters: `CHAIN PACKETS BYTES COMMENT` per line.
    Counters,
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
        Command::Firewall(cmd) => firewall(cmd),
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

fn firewall(cmd: FirewallCmd) -> ExitCode {
    use parvis::firewall;
    let load = |path: &std::path::Path| {
        parvis::config::load(path).map_err(|e| {
            println!("{e}");
            ExitCode::from(2)
        })
    };
    let done = |r: Result<String, firewall::FirewallError>| match r {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("parvis: {e}");
            ExitCode::from(1)
        }
    };
    match cmd {
        FirewallCmd::Render { config } => match load(&config) {
            Ok(cfg) => done(Ok(firewall::render(&cfg).to_json() + "\n")),
            Err(code) => code,
        },
        FirewallCmd::Apply {
            config,
            inject_invalid_rule,
        } => match load(&config) {
            Ok(cfg) => done(firewall_apply(&cfg, inject_invalid_rule)),
            Err(code) => code,
        },
        FirewallCmd::Bans => done(firewall::bans().map(|bans| {
            bans.iter()
                .map(|b| match b.expires_in {
                    Some(d) => format!("{} {}\n", b.addr, d.as_secs()),
                    None => format!("{} -\n", b.addr),
                })
                .collect()
        })),
        FirewallCmd::Ban { addr, secs } => done(
            firewall::ban_add(addr, std::time::Duration::from_secs(secs)).map(|()| String::new()),
        ),
        FirewallCmd::Blocked => {
            done(firewall::blocked().map(|list| list.iter().map(|c| format!("{c}\n")).collect()))
        }
        FirewallCmd::Counters => done(firewall::counters().map(|list| {
            list.iter()
                .map(|c| format!("{} {} {} {}\n", c.chain, c.packets, c.bytes, c.comment))
                .collect()
        })),
        FirewallCmd::Unban { addr } => done(firewall::ban_del(addr).map(|lifted| {
            if lifted {
                String::new()
            } else {
                format!("{addr} was not banned\n")
            }
        })),
    }
}

fn firewall_apply(
    cfg: &parvis::config::Config,
    inject_invalid_rule: bool,
) -> Result<String, parvis::firewall::FirewallError> {
    use parvis::firewall;
    let mut rs = firewall::render(cfg);
    if inject_invalid_rule {
        rs.rules.push(firewall::Rule::new(
            "input",
            "test: jump to a chain that does not exist",
            vec![nftables::stmt::Statement::Jump(
                nftables::stmt::JumpTarget {
                    target: "no-such-chain".into(),
                },
            )],
        ));
    }
    firewall::sysctls()?;
    Ok(format!("{}\n", firewall::apply_ruleset(&rs)?))
}
