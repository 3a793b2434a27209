//! `parvis net plan`: a hidden diagnostic that observes the links, plans
//! what the config and the OpenStack metadata ask for, prints it in `ip`
//! terms, applies it unless asked not to, and may watch link events
//! afterwards. Does I/O (netlink, the metadata, stdout).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Subcommand;

use super::metadata::MetadataError;
use super::NetError;
use crate::config::ConfigError;

/// The `parvis net` subcommands.
#[derive(Debug, Subcommand)]
pub enum NetCmd {
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

/// Why `parvis net plan` failed.
#[derive(Debug, thiserror::Error)]
pub enum DiagError {
    /// The config file does not load.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The metadata folder given does not read.
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    /// The roles cannot be resolved or the plan made.
    #[error(transparent)]
    Plan(NetError),
    /// Observing or changing the links failed.
    #[error(transparent)]
    Netlink(NetError),
    /// The link watch failed.
    #[error("{0}")]
    Watch(String),
    /// Writing to stdout failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl DiagError {
    /// Exit code: 2 for bad config, metadata or roles, 1 for the rest.
    pub fn exit_code(&self) -> u8 {
        match self {
            DiagError::Config(_) | DiagError::Metadata(_) | DiagError::Plan(_) => 2,
            DiagError::Netlink(_) | DiagError::Watch(_) | DiagError::Io(_) => 1,
        }
    }
}

/// Runs a `parvis net` subcommand.
pub async fn run(cmd: NetCmd) -> Result<(), DiagError> {
    match cmd {
        NetCmd::Plan {
            config,
            metadata,
            dry_run,
            watch,
        } => plan(&config, metadata.as_deref(), dry_run, watch).await,
    }
}

/// Observe, plan, print, apply unless `dry_run`, then optionally watch.
async fn plan(
    config: &Path,
    dir: Option<&Path>,
    dry_run: bool,
    watch: Option<u64>,
) -> Result<(), DiagError> {
    let cfg = crate::config::load(config)?;
    let meta = if cfg.interfaces.is_none() && dir.is_none() {
        None
    } else {
        match super::metadata::discover(dir).await {
            Ok((meta, source)) => {
                println!("# metadata: {source}");
                Some(meta)
            }
            Err(e) if dir.is_some() => return Err(e.into()),
            Err(e) => {
                eprintln!("warning: no OpenStack metadata: {e}");
                None
            }
        }
    };
    let observed = super::netlink::observe()
        .await
        .map_err(DiagError::Netlink)?;
    let roles = match &cfg.interfaces {
        Some(ifs) => super::resolve(ifs, &observed, meta.as_ref()).map_err(DiagError::Plan)?,
        None => super::Roles::default(),
    };
    for assignment in roles.iter() {
        println!("# {assignment}");
    }
    let changes = super::plan(&cfg, &observed, meta.as_ref()).map_err(DiagError::Plan)?;
    for change in &changes {
        println!("{change}");
    }
    if changes.is_empty() {
        println!("# nothing to change");
    } else if dry_run {
        println!("# dry run: nothing applied");
    } else {
        super::netlink::apply(&changes)
            .await
            .map_err(DiagError::Netlink)?;
        println!("# applied {} changes", changes.len());
    }
    if let Some(secs) = watch {
        watch_links(roles, secs).await?;
    }
    Ok(())
}

/// Prints link events for `secs` seconds, then the live state.
async fn watch_links(roles: super::Roles, secs: u64) -> Result<(), DiagError> {
    let (tx, mut rx) = tokio::sync::watch::channel(Vec::new());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(super::watch(roles, tx, Duration::from_secs(2), async {
        let _ = stopped.await;
    }));
    let join = |r: Result<Result<(), NetError>, tokio::task::JoinError>| match r {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(DiagError::Netlink(e)),
        Err(e) => Err(DiagError::Watch(format!("the link watch task failed: {e}"))),
    };
    // The first snapshot comes once the event socket is subscribed.
    if rx.changed().await.is_err() {
        join(task.await)?;
        return Err(DiagError::Watch(
            "the link watch stopped before its first snapshot".into(),
        ));
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
                for event in super::link_events(&last, &now) {
                    println!("event: {event}");
                }
                std::io::stdout().flush()?;
                last = now;
            }
        }
    }
    let _ = stop.send(());
    join(task.await)?;
    for link in &last {
        println!("link: {link}");
    }
    Ok(())
}
