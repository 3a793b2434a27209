//! `parvis lab`, `parvis lab --ha` and `parvis lab --ha --neutron` through
//! one launcher ([`run`] with a [`LabKind`]): build the topology, start the
//! demo backends and the daemon(s), print what to try, wait, clean up.
//! Also the single lab's picture.
//!
//! Does I/O: namespaces, child processes, stdout.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use super::civi::{civi_config, civi_notes, start_civi};
use super::neutron::StandIn;
use super::neutron_pair::{neutron_config, write_secret};
use super::pair::start_backends;
use super::receiver::Receiver;
use super::*;

/// Which lab `parvis lab` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabKind {
    /// One appliance with the sample config (`parvis lab`, `make demo`).
    Single,
    /// The VRRP pair (`parvis lab --ha`).
    Pair,
    /// The pair in the "neutron" failover mode (`parvis lab --ha
    /// --neutron`), each call to the Keystone/Neutron stand-in taking `delay`.
    Neutron {
        /// Added to every stand-in call.
        delay: Duration,
    },
}

/// What a lab started besides its topology and demo backends; dropped
/// (processes killed) before the namespaces go.
#[allow(dead_code)] // the processes and servers are held for their `Drop`
struct Started {
    /// The daemons and the admin door.
    children: Vec<ChildGuard>,
    /// Real web servers behind parvis (Apache httpd).
    receivers: Vec<Receiver>,
    /// What to print after the lab is up.
    notes: String,
}

/// `parvis lab` of any [`LabKind`]: builds the topology, starts the demo
/// backends (ingresses, forward target, TCP echo) and the daemon(s),
/// prints what to try and waits for `shutdown`; then kills every process
/// and removes every namespace and the lab's folder. Building blocks the
/// calling thread for about a second.
pub async fn run(kind: LabKind, shutdown: impl Future<Output = ()>) -> Result<(), LabError> {
    let pair = kind != LabKind::Single;
    let tag = if pair { "pv-lab-ha" } else { "pv-lab" };
    let dir = std::env::temp_dir().join(format!("{tag}-{}", std::process::id()));
    let exe = std::env::current_exe().map_err(LabError::CurrentExe)?;
    let opts = if pair {
        Options::pair()
    } else {
        Options::default()
    };
    let topo = Topology::build(opts)?;
    let result = start_and_wait(kind, &topo, &exe, &dir, shutdown).await;
    drop(topo);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn start_and_wait(
    kind: LabKind,
    topo: &Topology,
    exe: &Path,
    dir: &Path,
    shutdown: impl Future<Output = ()>,
) -> Result<(), LabError> {
    // The stand-in first: it sets the router's NAT before a node asks.
    let standin = match kind {
        LabKind::Neutron { delay } => {
            let s = StandIn::start(topo.router().name())?;
            s.world().delay = delay;
            Some(s)
        }
        _ => None,
    };
    let backends = start_backends(topo, exe)?;
    let started = match kind {
        LabKind::Single => start_single(topo, exe, dir)?,
        LabKind::Pair => start_pair(topo, exe, dir, None)?,
        LabKind::Neutron { delay } => start_pair(topo, exe, dir, Some(delay))?,
    };
    print!("{}", started.notes);
    shutdown.await;
    println!("removing the lab…");
    // Processes first, then (in the caller) their namespaces.
    drop(started);
    drop(backends);
    drop(standin);
    Ok(())
}

/// The single appliance: a fresh admin password, Apache where installed,
/// the sample config, the daemon and the admin door.
fn start_single(topo: &Topology, exe: &Path, dir: &Path) -> Result<Started, LabError> {
    let state_dir = dir.join("state");
    let password = appliance::password();
    crate::admin::auth::set_password(&state_dir, &password).map_err(|e| LabError::NotReady {
        command: "parvis passwd".into(),
        reason: e.to_string(),
    })?;
    let apache = start_civi(topo, &dir.join("apache"));
    let mut text = appliance::config(topo, &state_dir);
    if apache.is_ok() {
        text.push_str(&civi_config());
    }
    let daemon = appliance::start_daemon(topo, exe, dir, &text)?;
    let door = appliance::admin_door(topo);
    let notes = appliance::notes(topo, &password, door.is_some())
        .replace("<lab dir>", &dir.display().to_string())
        // `parvis` is not on the PATH after `make demo`: name the binary.
        .replace("<parvis>", &exe.display().to_string())
        // Apache's lines go before the admin UI's.
        .replacen(
            "\nAdmin UI:",
            &format!("{}\nAdmin UI:", civi_notes(topo, &apache)),
            1,
        );
    let mut children = vec![daemon.child];
    children.extend(door);
    Ok(Started {
        children,
        receivers: apache.into_iter().collect(),
        notes: format!("{}{notes}", without_try(&picture(topo))),
    })
}

/// The pair's two nodes on one config: VRRP, or the "neutron" mode (the
/// stand-in's `delay`, for the notes) with the credential in a 0600 file.
fn start_pair(
    topo: &Topology,
    exe: &Path,
    dir: &Path,
    neutron: Option<Duration>,
) -> Result<Started, LabError> {
    let state = dir.join("state");
    let advert = Duration::from_millis(crate::ha::RECOMMENDED_ADVERT_MS);
    let text = match neutron {
        Some(_) => neutron_config(&state, advert, Some(&write_secret(dir)?)),
        None => pair::config(&state, advert),
    };
    let a = pair::start_node(topo, 0, exe, dir, &text)?;
    let b = pair::start_node(topo, 1, exe, dir, &text)?;
    let mut notes = pair::notes(topo, dir, [a.child.id(), b.child.id()]);
    if let Some(delay) = neutron {
        notes.push_str(&format!(
            "\nMode \"neutron\": the floating IP follows the Neutron API, not ARP.\n\
             The Keystone/Neutron stand-in listens on {} (each call takes {delay:?});\n\
             `parvis ha status` shows the port the floating IP points at. The router's NAT:\n\
             \x20 ip netns exec {} nft list table ip pv-floating-ip\n",
            StandIn::auth_url(),
            topo.router().name()
        ));
    }
    Ok(Started {
        children: vec![a.child, b.child],
        receivers: Vec::new(),
        notes,
    })
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
