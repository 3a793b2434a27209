//! `parvis token create|list|revoke`: the API tokens in the config's
//! `state_dir`, edited in place (the daemon reads the file on each token
//! request, so no restart is needed). Does I/O (the config and token files).

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::api::tokens::{self, Role, TokenError};

/// The `token` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum TokenCmd {
    /// Make a token; prints it alone on the last line (shown only now).
    Create {
        /// A name for the token (letters, digits, `-`, `_`, `.`).
        name: String,
        /// `read` (GET only) or `write`.
        #[arg(long, default_value = "read")]
        role: String,
        /// The config file (TOML) whose `appliance.state_dir` holds the tokens.
        #[arg(long)]
        config: PathBuf,
    },
    /// The tokens: name, role, when made (never the token).
    List {
        /// The config file (TOML).
        #[arg(long)]
        config: PathBuf,
    },
    /// Revoke a token by name: it stops working at once.
    Revoke {
        /// The token's name.
        name: String,
        /// The config file (TOML).
        #[arg(long)]
        config: PathBuf,
    },
}

/// Why a token command failed: a bad config (exit 2) or the token store.
#[derive(Debug, thiserror::Error)]
pub enum TokenCmdError {
    /// The config could not be loaded.
    #[error("{0}")]
    Config(String),
    /// The token store refused or failed.
    #[error(transparent)]
    Store(#[from] TokenError),
}

/// Runs one command; returns what to print.
pub fn run(cmd: TokenCmd) -> Result<String, TokenCmdError> {
    let state_dir = |config: &PathBuf| {
        crate::config::load(config)
            .map(|c| c.appliance.state_dir.clone())
            .map_err(|e| TokenCmdError::Config(format!("{e:#}")))
    };
    match cmd {
        TokenCmd::Create { name, role, config } => {
            let role = Role::parse(&role)?;
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let token = tokens::create(&state_dir(&config)?, &name, role, now)?;
            Ok(format!(
                "token {name:?} ({}) made; it is shown only now:\n{token}\n",
                role.as_str()
            ))
        }
        TokenCmd::List { config } => {
            let list = tokens::list(&state_dir(&config)?)?;
            let mut out = format!("{:<24} {:<6} CREATED (UNIX)\n", "NAME", "ROLE");
            for t in list {
                out.push_str(&format!(
                    "{:<24} {:<6} {}\n",
                    t.name,
                    t.role.as_str(),
                    t.created
                ));
            }
            Ok(out)
        }
        TokenCmd::Revoke { name, config } => {
            tokens::revoke(&state_dir(&config)?, &name)?;
            Ok(format!("token {name:?} revoked\n"))
        }
    }
}
