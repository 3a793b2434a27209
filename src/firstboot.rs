//! What the image's first-boot script asks of parvis instead of parsing
//! OpenStack's JSON or a TOML file in shell: the systemd-networkd files
//! (`parvis firstboot networkd`), the state directory it may create for
//! the daemon (`parvis firstboot state-dir`), the metadata service fetched
//! with retries (`parvis firstboot fetch`) and the facts it needs from the
//! metadata (`parvis firstboot fact id|hostname|ssh-keys`). [`check_state_dir`] is pure;
//! the rest does I/O (reads the metadata folder and the config, writes the
//! network files).

mod fetch;

use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use crate::net::metadata::{self, networkd, MetadataError};
pub use fetch::{backoff, fetch, hostname, ssh_keys, write_docs, Retry};

/// `parvis firstboot ...` (hidden: for the image's first-boot script).
#[derive(Debug, clap::Subcommand)]
pub enum FirstbootCmd {
    /// Write the systemd-networkd files from the metadata folder's
    /// network_data.json (every value checked); one line per port.
    Networkd {
        /// The metadata folder (`openstack/latest/...` inside).
        #[arg(long)]
        metadata: PathBuf,
        /// Where the `.network` files go.
        #[arg(long, default_value = "/etc/systemd/network")]
        out: PathBuf,
    },
    /// Print the state_dir of a valid config if the daemon may own it
    /// (BASE or below); exit 2 otherwise.
    StateDir {
        /// The config file (TOML).
        #[arg(long)]
        config: PathBuf,
        /// The tree the daemon may own.
        #[arg(long, default_value = STATE_BASE)]
        base: PathBuf,
    },
    /// Fetch the metadata service until it answers (backoff, each failure
    /// printed), then write its documents into the metadata folder.
    Fetch {
        /// The metadata folder to fill (`openstack/latest/...` inside).
        #[arg(long)]
        out: PathBuf,
        /// The metadata service.
        #[arg(long, default_value = "169.254.169.254:80")]
        service: SocketAddr,
        /// Attempts before giving up; 0: until the metadata is read.
        #[arg(long, default_value_t = 0)]
        attempts: u32,
        /// Wait after the first failure, doubled after each (ms).
        #[arg(long, default_value_t = 1000)]
        first_delay_ms: u64,
        /// The longest wait between attempts (s).
        #[arg(long, default_value_t = 60)]
        max_delay_secs: u64,
    },
    /// Print what the first boot needs from the metadata folder: the
    /// instance id (`id`), the host name (`hostname`) or the SSH keys
    /// (`ssh-keys`, one per line).
    Fact {
        /// `id`, `hostname` or `ssh-keys`.
        #[arg(value_parser = ["id", "hostname", "ssh-keys"])]
        what: String,
        /// The metadata folder.
        #[arg(long)]
        metadata: PathBuf,
    },
}

/// Runs one command, printing its answer; the exit code with the error
/// (2 bad input, 1 a file that could not be written).
pub fn run(cmd: FirstbootCmd) -> Result<(), (u8, FirstbootError)> {
    let code = |e: FirstbootError| match e {
        FirstbootError::Io { .. } => (1, e),
        other => (2, other),
    };
    match cmd {
        FirstbootCmd::Networkd { metadata, out } => {
            for line in write_networkd(&metadata, &out).map_err(code)? {
                println!("{line}");
            }
        }
        FirstbootCmd::StateDir { config, base } => {
            println!("{}", state_dir(&config, &base).map_err(code)?.display());
        }
        FirstbootCmd::Fetch {
            out,
            service,
            attempts,
            first_delay_ms,
            max_delay_secs,
        } => {
            let retry = Retry {
                first_delay: Duration::from_millis(first_delay_ms),
                max_delay: Duration::from_secs(max_delay_secs),
                attempts,
            };
            let say = |line: &str| println!("{line}");
            block_on(fetch(service, &out, retry, say))
                .map_err(code)?
                .map_err(code)?;
        }
        FirstbootCmd::Fact { what, metadata } => {
            for line in fact(&what, &metadata).map_err(code)? {
                println!("{line}");
            }
        }
    }
    Ok(())
}

/// Runs `f` to completion from synchronous code, inside the command
/// line's runtime (multi-threaded) or a runtime of its own.
fn block_on<F: std::future::Future>(f: F) -> Result<F::Output, FirstbootError> {
    match tokio::runtime::Handle::try_current() {
        Ok(h) => Ok(tokio::task::block_in_place(|| h.block_on(f))),
        Err(_) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map(|rt| rt.block_on(f))
            .map_err(|source| FirstbootError::Io {
                path: PathBuf::from("tokio runtime"),
                source,
            }),
    }
}

/// One fact of the metadata folder `dir`, as lines (see [`FirstbootCmd::Fact`]).
pub fn fact(what: &str, dir: &Path) -> Result<Vec<String>, FirstbootError> {
    let meta = metadata::read_dir(dir)?;
    match what {
        "id" => meta
            .meta
            .uuid
            .filter(|u| !u.is_empty() && u.chars().all(|c| c.is_ascii_graphic()))
            .map(|u| vec![u])
            .ok_or_else(|| FirstbootError::Fact("meta_data.json has no usable `uuid`".into())),
        "hostname" => Ok(hostname(&meta).into_iter().collect()),
        "ssh-keys" => Ok(ssh_keys(&meta)),
        other => Err(FirstbootError::Fact(format!("unknown fact {other:?}"))),
    }
}

/// Where the image's daemon keeps its state; the only tree the first boot
/// hands to the daemon's user.
pub const STATE_BASE: &str = "/var/lib/parvis";

/// Why the first boot must not go on with a value.
#[derive(Debug, thiserror::Error)]
pub enum FirstbootError {
    /// The metadata is unreadable or holds a value that cannot be used.
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    /// The config does not pass `parvis check`.
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    /// `state_dir` is not a directory the daemon may own.
    #[error("appliance.state_dir: {0}")]
    StateDir(String),
    /// A fact the metadata does not hold.
    #[error("{0}")]
    Fact(String),
    /// A file could not be written or removed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Renders the networkd files from the metadata folder `meta_dir` (laid
/// out like a config drive) into `out`, replacing earlier
/// `10-parvis-*.network` files; returns one line per port.
pub fn write_networkd(meta_dir: &Path, out: &Path) -> Result<Vec<String>, FirstbootError> {
    let meta = metadata::read_dir(meta_dir)?;
    let files = networkd::render(&meta)?;
    let io = |path: &Path, source| FirstbootError::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(out).map_err(|e| io(out, e))?;
    for entry in std::fs::read_dir(out).map_err(|e| io(out, e))?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("10-parvis-") && name.ends_with(".network") {
            std::fs::remove_file(entry.path()).map_err(|e| io(&entry.path(), e))?;
        }
    }
    let mut lines = Vec::new();
    for f in files {
        let path = out.join(&f.name);
        std::fs::write(&path, &f.text).map_err(|e| io(&path, e))?;
        lines.push(f.summary);
    }
    Ok(lines)
}

/// The `state_dir` of a valid config, if the daemon may own it (see
/// [`check_state_dir`] with `base`).
pub fn state_dir(config: &Path, base: &Path) -> Result<PathBuf, FirstbootError> {
    let cfg = crate::config::load(config)?;
    let dir = cfg.appliance.state_dir;
    check_state_dir(&dir, base).map_err(FirstbootError::StateDir)?;
    // An existing path must not lead elsewhere through a link.
    if let Ok(real) = dir.canonicalize() {
        let real_base = base.canonicalize().unwrap_or_else(|_| base.to_path_buf());
        check_state_dir(&real, &real_base).map_err(FirstbootError::StateDir)?;
    }
    Ok(dir)
}

/// A directory the first boot may create and give to the daemon's user:
/// `base` itself or below it, spelled without `.` or `..`.
pub fn check_state_dir(dir: &Path, base: &Path) -> Result<(), String> {
    let plain = dir.is_absolute()
        && dir
            .components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
    if plain && dir.starts_with(base) {
        return Ok(());
    }
    Err(format!(
        "{} is not a directory the daemon may own (it must be {} or below it)",
        dir.display(),
        base.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_state_tree_may_be_handed_over() {
        let base = Path::new(STATE_BASE);
        for ok in [
            "/var/lib/parvis",
            "/var/lib/parvis/",
            "/var/lib/parvis/node-a",
        ] {
            assert_eq!(check_state_dir(Path::new(ok), base), Ok(()), "{ok}");
        }
        for bad in [
            "/etc",
            "/",
            "/var/lib",
            "/var/lib/parvis-other",
            "/var/lib/parvis/../../../etc",
            "var/lib/parvis",
            "/root",
        ] {
            let e = check_state_dir(Path::new(bad), base).expect_err(bad);
            assert!(e.contains("may own"), "{e}");
        }
    }
}
