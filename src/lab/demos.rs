//! The lab's demo processes: `parvis demo-ingress` started in a lab
//! namespace and waited for, on both ingress nodes or anywhere else.
//! Does I/O (child processes, their stdout).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use super::ns::describe;
use super::{ChildGuard, LabError, Ns, Topology, INGRESS};
use crate::demo::{self, ProxyMode, READY_LINE};

/// How long a demo ingress may take to bind its ports.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// The host names the lab's demo ingresses have certificates for.
pub const DEMO_HOSTS: [&str; 2] = ["paroisse-a.example.org", "paroisse-b.example.org"];

/// The demo ingress processes of a lab, killed on drop.
#[derive(Debug)]
pub struct DemoHandles {
    /// One per ingress node, in [`INGRESS`] order.
    pub children: Vec<ChildGuard>,
}

/// Starts `exe demo-ingress` in both ingress namespaces, TLS on :443 and
/// HTTP on :80 of their [`INGRESS`] address, and waits until both listen.
pub fn start_ingresses(
    topo: &Topology,
    exe: &Path,
    proxy: ProxyMode,
) -> Result<DemoHandles, LabError> {
    let mut children = Vec::new();
    for (i, ns) in topo.ingresses().iter().enumerate() {
        let opts = demo::Options {
            name: format!("ingress{}", i + 1),
            tls: Some((INGRESS[i], 443).into()),
            http: Some((INGRESS[i], 80).into()),
            proxy,
            hosts: DEMO_HOSTS.iter().map(|h| (*h).to_owned()).collect(),
        };
        children.push(start_demo(ns, exe, &opts)?);
    }
    Ok(DemoHandles { children })
}

/// Starts `exe demo-ingress ...` inside `ns` and returns once it printed
/// its ready line (its ports are bound), or fails after 10 s.
pub fn start_demo(ns: &Ns, exe: &Path, opts: &demo::Options) -> Result<ChildGuard, LabError> {
    let mut cmd = ns.command(&exe.to_string_lossy());
    cmd.args(opts.to_args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let command = describe(&cmd);
    let mut guard = ChildGuard::spawn(cmd)?;
    let not_ready = |reason: &str| LabError::NotReady {
        command: command.clone(),
        reason: reason.to_owned(),
    };
    let stdout = guard
        .child_mut()
        .stdout
        .take()
        .ok_or_else(|| not_ready("no stdout pipe"))?;
    let (tx, rx) = mpsc::channel();
    // A blocking read with a deadline: the thread ends when the child
    // prints, exits, or is killed by the guard.
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    match rx.recv_timeout(READY_TIMEOUT) {
        Ok(line) if line.trim_end() == READY_LINE => Ok(guard),
        Ok(line) if line.is_empty() => Err(not_ready("exited before listening (see its stderr)")),
        Ok(line) => Err(not_ready(&format!("unexpected output {line:?}"))),
        Err(_) => Err(not_ready("no ready line within 10 s")),
    }
}
