//! Starting the real `parvis serve` in a lab namespace: the one way the
//! single appliance, each node of the pair, `parvis lab` and the tests
//! start a daemon. Does I/O (files, processes).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::{ChildGuard, LabError, Ns};

/// A running `parvis serve` in a lab namespace.
pub struct Daemon {
    /// The daemon process (killed on drop).
    pub child: ChildGuard,
    /// Its config file.
    pub config: PathBuf,
    /// Its control socket.
    pub socket: PathBuf,
    /// Its state directory.
    pub state_dir: PathBuf,
}

/// How to start one daemon: where its files are and where its output goes.
#[derive(Debug, Clone)]
pub struct Serve {
    /// The config file (already written, see [`write_config`]).
    pub config: PathBuf,
    /// The control socket (removed first if a previous run left it).
    pub socket: PathBuf,
    /// `--state-dir`; `None`: the config's own `state_dir`.
    pub state_dir: Option<PathBuf>,
    /// Append stdout and stderr to this file; `None`: stdout and stderr
    /// are this process's.
    pub log: Option<PathBuf>,
    /// Run with `RUST_LOG=debug`.
    pub debug: bool,
}

impl Serve {
    /// Starts `exe serve` with these files inside `ns`; returns once its
    /// control socket exists (the startup apply is done), or fails if the
    /// daemon exits first or takes over 30 s.
    pub fn start(&self, ns: &Ns, exe: &Path) -> Result<Daemon, LabError> {
        let _ = std::fs::remove_file(&self.socket);
        let mut cmd = ns.command(&exe.to_string_lossy());
        cmd.arg("serve")
            .arg("--config")
            .arg(&self.config)
            .arg("--socket")
            .arg(&self.socket)
            .stdin(Stdio::null());
        if let Some(dir) = &self.state_dir {
            cmd.arg("--state-dir").arg(dir);
        }
        if let Some(path) = &self.log {
            let open = || {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| io_error(&format!("open {}", path.display()), e))
            };
            cmd.env("RUST_LOG", "debug").stdout(open()?).stderr(open()?);
        }
        let mut child = ChildGuard::spawn(cmd)?;
        wait_ready(&mut child, &self.socket)?;
        let state_dir = match &self.state_dir {
            Some(d) => d.clone(),
            None => configured_state_dir(&self.config)
                .unwrap_or_else(|| self.config.with_file_name("state")),
        };
        Ok(Daemon {
            child,
            config: self.config.clone(),
            socket: self.socket.clone(),
            state_dir,
        })
    }
}

/// Writes `text` to `dir/parvis.toml` (creating `dir`); returns the path.
pub fn write_config(dir: &Path, text: &str) -> Result<PathBuf, LabError> {
    std::fs::create_dir_all(dir).map_err(|e| io_error(&format!("mkdir {}", dir.display()), e))?;
    let config = dir.join("parvis.toml");
    std::fs::write(&config, text)
        .map_err(|e| io_error(&format!("write {}", config.display()), e))?;
    Ok(config)
}

/// Waits until a starting `parvis serve` has opened its control socket
/// (its startup apply is done); fails if it exits first or takes over 30 s.
pub fn wait_ready(child: &mut ChildGuard, socket: &Path) -> Result<(), LabError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !socket.exists() {
        if let Ok(Some(status)) = child.child_mut().try_wait() {
            return Err(LabError::NotReady {
                command: "parvis serve".into(),
                reason: format!("it exited ({status}) before it was ready; its log is above"),
            });
        }
        if Instant::now() > deadline {
            return Err(LabError::NotReady {
                command: "parvis serve".into(),
                reason: "no control socket after 30 s".into(),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// The `state_dir` the config file names, if it parses.
fn configured_state_dir(config: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(config).ok()?;
    crate::config::parse(&text)
        .ok()
        .map(|c| c.appliance.state_dir)
}

fn io_error(what: &str, e: std::io::Error) -> LabError {
    LabError::NotReady {
        command: what.to_string(),
        reason: e.to_string(),
    }
}
