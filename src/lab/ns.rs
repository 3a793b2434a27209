//! One named network namespace, and processes run inside it.
//!
//! Does I/O: runs `ip netns ...` and the programs given to it.

use std::io::Write;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::LabError;

/// A network namespace owned by this process: deleted on drop.
///
/// Dropping it first kills (by PID) every process still inside it, then runs
/// `ip netns del`; the veths whose end lives in it die with it.
#[derive(Debug)]
pub struct Ns {
    name: String,
}

impl Ns {
    /// Creates the namespace `name` and brings its loopback up.
    pub fn create(name: &str) -> Result<Ns, LabError> {
        ip(&["netns", "add", name])?;
        let ns = Ns {
            name: name.to_owned(),
        };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name, as `ip netns exec` wants it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A command that runs `program` inside this namespace
    /// (`ip netns exec NAME program`); add arguments and run it yourself.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name, program]);
        cmd
    }

    /// Runs `args[0]` with the remaining arguments inside this namespace and
    /// waits; a non-zero exit is an error carrying stderr.
    pub fn run(&self, args: &[&str]) -> Result<Output, LabError> {
        self.run_with_input(args, &[])
    }

    /// Like [`Ns::run`], writing `input` to the program's stdin first.
    pub fn run_with_input(&self, args: &[&str], input: &[u8]) -> Result<Output, LabError> {
        let (program, rest) = split(args)?;
        let mut cmd = self.command(program);
        cmd.args(rest);
        output(cmd, input)
    }

    /// `ip ARGS` run against this namespace (`ip -n NAME ARGS`).
    pub fn ip(&self, args: &[&str]) -> Result<Output, LabError> {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        ip(&full)
    }

    /// Starts `args[0]` inside this namespace in the background, stdin and
    /// stdout to /dev/null, stderr inherited. The guard kills it on drop.
    pub fn spawn(&self, args: &[&str]) -> Result<ChildGuard, LabError> {
        let (program, rest) = split(args)?;
        let mut cmd = self.command(program);
        cmd.args(rest).stdin(Stdio::null()).stdout(Stdio::null());
        ChildGuard::spawn(cmd)
    }

    /// Polls `ss` here every 100 ms until something listens on TCP
    /// `port`; `Err` says why not: `child` (the server) exited, or 10 s
    /// passed.
    pub fn wait_listening(&self, child: &mut ChildGuard, port: u16) -> Result<(), String> {
        let filter = format!("sport = :{port}");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = child.child_mut().try_wait() {
                return Err(format!("exited ({status})"));
            }
            let listening = self
                .run(&["ss", "-Hltn", &filter])
                .is_ok_and(|o| !o.stdout.is_empty());
            if listening {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("not listening on {port} after 10 s"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// PIDs of the processes whose network namespace is this one.
    fn pids(&self) -> Vec<String> {
        match ip(&["netns", "pids", &self.name]) {
            Ok(out) => String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        remove(&self.name, &self.pids());
    }
}

/// Kills `pids` (processes inside the namespace) and deletes namespace `name`.
pub(super) fn remove(name: &str, pids: &[String]) {
    for pid in pids {
        // A process that ended meanwhile is not an error worth reporting.
        let _ = Command::new("kill")
            .args(["-KILL", pid])
            .stderr(Stdio::null())
            .status();
    }
    if let Err(err) = ip(&["netns", "del", name]) {
        tracing::warn!(namespace = name, %err, "could not delete namespace");
    }
}

/// A background process that is killed (by its PID) and reaped on drop.
#[derive(Debug)]
pub struct ChildGuard {
    child: Child,
    command: String,
}

impl ChildGuard {
    /// Spawns `cmd` and guards the child.
    pub fn spawn(mut cmd: Command) -> Result<ChildGuard, LabError> {
        let command = describe(&cmd);
        let child = cmd.spawn().map_err(|source| LabError::Spawn {
            command: command.clone(),
            source,
        })?;
        Ok(ChildGuard { child, command })
    }

    /// The child's PID.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The command line that started it, for messages.
    pub fn command(&self) -> &str {
        &self.command
    }

    /// The child itself, e.g. to take its piped stdout.
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        // `kill` on an already-exited child fails harmlessly; `wait` reaps it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `ip ARGS` in the current (host) namespace context; only namespace
/// management and `-n NS` commands go through here.
pub(super) fn ip(args: &[&str]) -> Result<Output, LabError> {
    let mut cmd = Command::new("ip");
    cmd.args(args);
    output(cmd, &[])
}

fn split<'a>(args: &'a [&'a str]) -> Result<(&'a str, &'a [&'a str]), LabError> {
    args.split_first()
        .map(|(p, rest)| (*p, rest))
        .ok_or_else(|| LabError::NotReady {
            command: String::new(),
            reason: "empty command line".into(),
        })
}

fn output(mut cmd: Command, input: &[u8]) -> Result<Output, LabError> {
    let command = describe(&cmd);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let spawn_err = |source| LabError::Spawn {
        command: command.clone(),
        source,
    };
    let mut child = cmd.spawn().map_err(spawn_err)?;
    if let Some(mut stdin) = child.stdin.take() {
        // A program that exits without reading its input is judged by its
        // exit status below, not by the broken pipe here.
        let _ = stdin.write_all(input);
    }
    let out = child.wait_with_output().map_err(spawn_err)?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(LabError::Failed {
            command,
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

/// `program arg arg ...`, for error messages.
pub(super) fn describe(cmd: &Command) -> String {
    let mut parts = vec![cmd.get_program().to_string_lossy().into_owned()];
    parts.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}
