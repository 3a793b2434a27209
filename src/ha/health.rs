//! The node's fitness to hold the VIPs, decided in one place: every
//! listener accepts (a local connect; a listener bound to a VIP this node
//! does not hold is checked as bound), both links are up, `table inet
//! parvis` is in the kernel and a real config (not the safe default) is in
//! force. [`verdict`] is pure; [`probe`] gathers the facts and [`write`]
//! leaves the verdict where keepalived's `vrrp_script` (`parvis ha check`)
//! reads it. A hung daemon stops refreshing the file; [`check`] then fails
//! on its age. Does I/O.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::HaError;
use crate::net::Observed;

/// How often the loop runs.
pub const PERIOD: Duration = Duration::from_millis(250);
/// The age past which `parvis ha check` calls the daemon hung.
pub const MAX_AGE: Duration = Duration::from_millis(1000);
/// How long a listener has to accept the probe's connection.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(300);

/// The facts one round of the loop gathered.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// Listeners whose probe failed: name and why.
    pub listeners_failed: Vec<(String, String)>,
    /// Links that must be up (name) and are not.
    pub links_down: Vec<String>,
    /// `table inet parvis` is in the kernel.
    pub table: bool,
    /// Why the safe default runs instead of a real config, if it does.
    pub safe_default: Option<String>,
}

/// `Ok` when fit, else every reason it is not, joined.
pub fn verdict(f: &Facts) -> Result<(), String> {
    let mut why = Vec::new();
    for (name, e) in &f.listeners_failed {
        why.push(format!("listener {name} does not accept: {e}"));
    }
    for l in &f.links_down {
        why.push(format!("link {l} is down"));
    }
    if !f.table {
        why.push("table inet parvis is missing".into());
    }
    if let Some(r) = &f.safe_default {
        why.push(format!("the safe default runs ({r})"));
    }
    if why.is_empty() {
        Ok(())
    } else {
        Err(why.join("; "))
    }
}

/// Links among `required` that are missing, down or without carrier.
pub fn links_down(observed: &Observed, required: &[String]) -> Vec<String> {
    required
        .iter()
        .filter(|name| {
            !observed
                .links
                .iter()
                .any(|l| &&l.name == name && l.up && l.carrier)
        })
        .cloned()
        .collect()
}

/// Probes each bound listener: a TCP connect to it (the unspecified address
/// → loopback). One bound to an address that is not local (a VIP held by
/// the peer) cannot be reached from here: its bound socket is the fact.
pub async fn probe_listeners(
    bound: &[(String, SocketAddr)],
    local: &[IpAddr],
) -> Vec<(String, String)> {
    let mut failed = Vec::new();
    for (name, addr) in bound {
        let ip = match addr.ip() {
            IpAddr::V4(v) if v.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(v) if v.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip if local.contains(&ip) => ip,
            _ => continue,
        };
        let target = SocketAddr::new(ip, addr.port());
        match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(target)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => failed.push((name.clone(), format!("{target}: {e}"))),
            Err(_) => failed.push((
                name.clone(),
                format!("{target}: no answer in {CONNECT_TIMEOUT:?}"),
            )),
        }
    }
    failed
}

/// Is `table inet parvis` in the kernel? (`nft list tables inet`.)
pub async fn table_present() -> bool {
    let out = tokio::process::Command::new("nft")
        .args(["list", "tables", "inet"])
        .kill_on_drop(true)
        .output()
        .await;
    out.is_ok_and(|o| {
        o.status.success()
            && String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == "table inet parvis")
    })
}

/// Writes the verdict to the health file (replacing it atomically).
pub fn write(path: &Path, verdict: &Result<(), String>) -> Result<(), HaError> {
    let text = match verdict {
        Ok(()) => "ok\n".to_string(),
        Err(why) => format!("down: {why}\n"),
    };
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|source| HaError::Io {
            path: path.to_path_buf(),
            source,
        })
}

/// `parvis ha check`: `Ok` when the file says "ok" and is younger than
/// `max_age`; else why not. keepalived runs it every second.
pub fn check(path: &Path, max_age: Duration, now: SystemTime) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let modified = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let age = now.duration_since(modified).unwrap_or_default();
    if age > max_age {
        return Err(format!(
            "{} is {} ms old: the daemon is not refreshing it (hung?)",
            path.display(),
            age.as_millis()
        ));
    }
    match text.trim() {
        "ok" => Ok(()),
        other => Err(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fit() -> Facts {
        Facts {
            table: true,
            ..Facts::default()
        }
    }

    #[test]
    fn fit_only_when_every_fact_holds() {
        assert_eq!(verdict(&fit()), Ok(()));
        let mut f = fit();
        f.table = false;
        f.links_down = vec!["ens3".into()];
        f.safe_default = Some("no config".into());
        f.listeners_failed = vec![("https".into(), "refused".into())];
        let e = verdict(&f).expect_err("unfit");
        for want in [
            "listener https",
            "link ens3 is down",
            "table inet parvis",
            "safe default",
        ] {
            assert!(e.contains(want), "{want} in {e}");
        }
    }

    #[test]
    fn check_reads_verdict_and_age() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("health");
        assert!(
            check(&p, MAX_AGE, SystemTime::now()).is_err(),
            "missing file fails"
        );
        write(&p, &Ok(())).expect("write");
        assert_eq!(check(&p, MAX_AGE, SystemTime::now()), Ok(()));
        let later = SystemTime::now() + Duration::from_secs(5);
        let e = check(&p, MAX_AGE, later).expect_err("stale");
        assert!(e.contains("hung"), "{e}");
        write(&p, &Err("link ens3 is down".into())).expect("write");
        let e = check(&p, MAX_AGE, SystemTime::now()).expect_err("down");
        assert!(e.contains("ens3"), "{e}");
    }

    #[tokio::test]
    async fn probe_connects_to_local_listeners_only() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let good = l.local_addr().expect("addr");
        let closed = {
            let t = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            t.local_addr().expect("addr")
        };
        let remote: SocketAddr = "192.0.2.1:443".parse().expect("addr");
        let bound = vec![
            ("good".to_string(), good),
            ("closed".to_string(), closed),
            ("vip".to_string(), remote),
        ];
        let failed = probe_listeners(&bound, &[IpAddr::V4(Ipv4Addr::LOCALHOST)]).await;
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert_eq!(failed[0].0, "closed");
    }
}
