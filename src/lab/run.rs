//! `parvis lab`: build the topology, start the demo ingresses (and, through
//! a hook, the appliance daemon), print what to try, wait, clean up.
//!
//! Does I/O: namespaces, child processes, stdout.

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use super::ns::describe;
use super::*;
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

/// What the `start_appliance` hook of [`run_with`] started.
#[derive(Debug, Default)]
pub struct ApplianceStart {
    /// Processes to kill (before the namespaces go) when the lab stops.
    pub children: Vec<ChildGuard>,
    /// Real web servers behind parvis (Apache httpd), stopped with them.
    pub receivers: Vec<super::receiver::Receiver>,
    /// Extra lines printed after the picture (admin URL, password, ...).
    pub notes: String,
}

/// Runs `parvis lab` without an appliance daemon. See [`run_with`].
pub async fn run(opts: Options, shutdown: impl Future<Output = ()>) -> Result<(), LabError> {
    run_with(opts, shutdown, |_| Ok(ApplianceStart::default())).await
}

/// Builds the topology, starts the demo ingresses, calls `start_appliance`
/// (where the daemon gets started in [`Topology::appliance`]), prints the
/// picture and waits for `shutdown`; then kills every process and removes
/// every namespace. Building blocks the calling thread for about a second.
pub async fn run_with<F>(
    opts: Options,
    shutdown: impl Future<Output = ()>,
    start_appliance: F,
) -> Result<(), LabError>
where
    F: FnOnce(&Topology) -> Result<ApplianceStart, LabError>,
{
    let topo = Topology::build(opts)?;
    let exe = std::env::current_exe().map_err(LabError::CurrentExe)?;
    let ingresses = start_ingresses(&topo, &exe, ProxyMode::Optional)?;
    let appliance = start_appliance(&topo)?;
    // One "Try" block: the appliance's notes carry their own.
    let mut text = picture(&topo);
    if !appliance.notes.is_empty() {
        text = without_try(&text);
    }
    print!("{text}{}", appliance.notes);
    shutdown.await;
    println!("removing the lab…");
    // Processes first, then their namespaces.
    drop(appliance);
    drop(ingresses);
    drop(topo);
    Ok(())
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

/// `picture`'s text without its "Try:" block (up to the blank line after it).
fn without_try(picture: &str) -> String {
    match picture.find("Try:\n") {
        Some(at) => {
            let end = picture[at..]
                .find("\n\n")
                .map_or(picture.len(), |e| at + e + 2);
            format!("{}{}", &picture[..at], &picture[end..])
        }
        None => picture.to_string(),
    }
}

/// The text `parvis lab` prints: where everything is and what to try.
pub fn picture(topo: &Topology) -> String {
    let c = topo.client().name();
    let a = topo.appliance().name();
    let (public, internal) = (topo.public_port(), topo.internal_port());
    let [h1, h2] = DEMO_HOSTS;
    format!(
        "\nparvis lab is up. Namespaces:\n\
         \x20 client     {c:<28} {CLIENT}/24 (+ {CLIENT_2}, {CLIENT_3}), gw {ROUTER_OUTSIDE}\n\
         \x20 router     {r:<28} floating IP {FLOATING_IP} <-> {APPLIANCE_PUBLIC} (1:1 NAT)\n\
         \x20 appliance  {a:<28} {pn} {pm} {APPLIANCE_PUBLIC}/24 (public), {inn} {im} {APPLIANCE_INTERNAL}/24 (internal)\n\
         \x20 k8s        {s:<28} bridge br0 for 10.0.0.0/24\n\
         \x20 ingress1   {i1:<28} {g1} demo ingress :443 (TLS) :80 (HTTP), PROXY optional\n\
         \x20 ingress2   {i2:<28} {g2} demo ingress :443 (TLS) :80 (HTTP), PROXY optional\n\
         \x20 server     {sv:<28} {SERVER}\n\n\
         Try:\n\
         \x20 ip netns exec {c} ping -c1 {FLOATING_IP}\n\
         \x20 ip netns exec {a} curl -sk --resolve {h1}:443:{g1} https://{h1}/\n\
         \x20 ip netns exec {a} curl -sk --resolve {h2}:443:{g2} https://{h2}/\n\
         \x20 ip netns exec {a} curl -s --haproxy-protocol http://{g2}/\n\
         \x20 ip netns exec {c} bash        # a shell on the internet side\n\n\
         Ctrl-C removes everything.\n",
        r = topo.router().name(),
        s = topo.switch().name(),
        i1 = topo.ingress(0).name(),
        i2 = topo.ingress(1).name(),
        sv = topo.server().name(),
        pn = public.name,
        pm = public.mac,
        inn = internal.name,
        im = internal.mac,
        g1 = INGRESS[0],
        g2 = INGRESS[1],
    )
}

#[cfg(test)]
mod tests {
    use super::without_try;

    #[test]
    fn without_try_drops_only_the_try_block() {
        let text = "up:\n  a\n\nTry:\n  x\n  y\n\nCtrl-C removes everything.\n";
        assert_eq!(
            without_try(text),
            "up:\n  a\n\nCtrl-C removes everything.\n"
        );
    }
}
