//! `parvis firewall ...`: hidden diagnostics of the data path for an
//! operator on the console and for the tests (render, check, apply once,
//! bans, counters). Does I/O (runs nft in the current namespace).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

/// The `parvis firewall` subcommands.
#[derive(Subcommand)]
pub enum FirewallCmd {
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
    /// Ask nft whether it would accept the ruleset (`nft -c`), changing nothing.
    Check {
        #[arg(long)]
        config: PathBuf,
    },
    /// List the banned sources: `ADDR SECONDS-LEFT SCOPE` per line
    /// (scope `all`, or `admin` for a login ban).
    Bans,
    /// Ban a source by hand.
    Ban {
        addr: std::net::IpAddr,
        /// Seconds.
        #[arg(long = "for")]
        secs: u64,
        /// A login ban: the admin port and SSH only.
        #[arg(long)]
        login: bool,
        /// IPv6 sources are banned per prefix of this length.
        #[arg(long, default_value_t = crate::config::DEFAULT_IPV6_PREFIX)]
        ipv6_prefix: u8,
    },
    /// Lift a ban.
    Unban {
        addr: std::net::IpAddr,
        /// IPv6 sources are banned per prefix of this length.
        #[arg(long, default_value_t = crate::config::DEFAULT_IPV6_PREFIX)]
        ipv6_prefix: u8,
    },
    /// List the blocked prefixes as loaded.
    Blocked,
    /// Per-rule counters: `CHAIN PACKETS BYTES COMMENT` per line.
    Counters,
}

/// Runs one diagnostic; prints its result, exit 0 / 1 (nft) / 2 (config).
pub fn run(cmd: FirewallCmd) -> ExitCode {
    use crate::firewall;
    let load = |path: &std::path::Path| {
        crate::config::load(path).map_err(|e| {
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
            Ok(cfg) => done(apply_once(&cfg, inject_invalid_rule)),
            Err(code) => code,
        },
        FirewallCmd::Check { config } => match load(&config) {
            Ok(cfg) => done(firewall::check(&cfg).map(|()| "ok\n".to_string())),
            Err(code) => code,
        },
        FirewallCmd::Bans => done(firewall::bans().map(|bans| bans_text(&bans))),
        FirewallCmd::Ban {
            addr,
            secs,
            login,
            ipv6_prefix,
        } => done(ban(addr, secs, login, ipv6_prefix)),
        FirewallCmd::Blocked => {
            done(firewall::blocked().map(|list| list.iter().map(|c| format!("{c}\n")).collect()))
        }
        FirewallCmd::Counters => done(firewall::counters().map(|list| {
            list.iter()
                .map(|c| format!("{} {} {} {}\n", c.chain, c.packets, c.bytes, c.comment))
                .collect()
        })),
        FirewallCmd::Unban { addr, ipv6_prefix } => {
            done(firewall::ban_del(addr, ipv6_prefix).map(|lifted| {
                if lifted {
                    String::new()
                } else {
                    format!("{addr} was not banned\n")
                }
            }))
        }
    }
}

/// A rule the kernel refuses (a jump to a chain that does not exist):
/// the tests' way to make nft refuse an apply (the whole transaction).
pub fn refused_rule() -> crate::firewall::Rule {
    crate::firewall::Rule::new(
        "input",
        "test: jump to a chain that does not exist",
        vec![nftables::stmt::Statement::Jump(
            nftables::stmt::JumpTarget {
                target: "no-such-chain".into(),
            },
        )],
    )
}

/// `ADDR SECONDS-LEFT SCOPE` per ban.
fn bans_text(bans: &[crate::firewall::Ban]) -> String {
    bans.iter()
        .map(|b| {
            let left = b
                .expires_in
                .map_or_else(|| "-".to_string(), |d| d.as_secs().to_string());
            let scope = match b.scope {
                crate::firewall::BanScope::All => "all",
                crate::firewall::BanScope::Admin => "admin",
            };
            format!("{} {left} {scope}\n", b.addr)
        })
        .collect()
}

fn ban(
    addr: std::net::IpAddr,
    secs: u64,
    login: bool,
    ipv6_prefix: u8,
) -> Result<String, crate::firewall::FirewallError> {
    use crate::firewall::{ban_add, BanScope};
    let scope = if login {
        BanScope::Admin
    } else {
        BanScope::All
    };
    let d = std::time::Duration::from_secs(secs);
    ban_add(addr, d, scope, ipv6_prefix).map(|()| String::new())
}

fn apply_once(
    cfg: &crate::config::Config,
    inject_invalid_rule: bool,
) -> Result<String, crate::firewall::FirewallError> {
    use crate::firewall;
    let mut rs = firewall::render(cfg);
    if inject_invalid_rule {
        rs.rules.push(refused_rule());
    }
    firewall::sysctls()?;
    Ok(format!("{}\n", firewall::apply_ruleset(&rs)?))
}
