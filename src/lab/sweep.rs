//! Finding and removing namespaces left behind by a killed lab process.
//!
//! Does I/O in [`sweep_leftovers`] (`ip netns list`, `/proc`); the name
//! parsing is pure.

use super::ns::{ip, remove};
use super::LabError;

/// Every lab namespace name starts with this.
pub const NS_PREFIX: &str = "pv-";

/// The PID in a lab namespace name `pv-<pid>-...`, if the name has that shape.
pub fn parse_owner_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(NS_PREFIX)?;
    let (pid, tail) = rest.split_once('-')?;
    if tail.is_empty() {
        return None;
    }
    pid.parse().ok()
}

/// Names in `ip netns list` output (`name (id: 3)` or just `name`).
fn list_names(listing: &str) -> impl Iterator<Item = &str> {
    listing.lines().filter_map(|l| l.split_whitespace().next())
}

/// Whether a `/proc/<pid>/stat` line describes a zombie: a killed lab whose
/// parent has not reaped it yet is as dead as one that is gone.
fn is_zombie(stat: &str) -> bool {
    // The command name may hold spaces and parentheses; the state follows
    // the last `)`.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .is_some_and(|state| state == "Z" || state == "X")
}

/// The lab namespaces in `listing` whose owner PID `is_alive` says is gone.
fn stale(listing: &str, is_alive: impl Fn(u32) -> bool) -> Vec<&str> {
    list_names(listing)
        .filter(|name| parse_owner_pid(name).is_some_and(|pid| !is_alive(pid)))
        .collect()
}

/// Deletes every `pv-<pid>-...` namespace whose PID no longer exists,
/// killing processes still inside it first. Returns the names removed.
pub fn sweep_leftovers() -> Result<Vec<String>, LabError> {
    let out = ip(&["netns", "list"])?;
    let listing = String::from_utf8_lossy(&out.stdout);
    let alive = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| !is_zombie(&stat))
    };
    let names: Vec<String> = stale(&listing, alive)
        .into_iter()
        .map(str::to_owned)
        .collect();
    for name in &names {
        let pids = ip(&["netns", "pids", name])
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        tracing::info!(namespace = %name, "removing leftover lab namespace");
        remove(name, &pids);
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_pid_is_parsed_from_lab_names_only() {
        assert_eq!(parse_owner_pid("pv-1234-0-client"), Some(1234));
        assert_eq!(parse_owner_pid("pv-1234-"), None);
        assert_eq!(parse_owner_pid("pv-abc-0-client"), None);
        assert_eq!(parse_owner_pid("other-1234-0"), None);
        assert_eq!(parse_owner_pid("pv-"), None);
    }

    #[test]
    fn zombies_count_as_dead() {
        assert!(is_zombie("6869 (parvis) Z 1 6869 ..."));
        assert!(is_zombie("42 (a) b) (c) Z 1"));
        assert!(!is_zombie("6869 (parvis) S 1 6869 ..."));
        assert!(!is_zombie("garbage"));
    }

    #[test]
    fn stale_keeps_live_and_foreign_namespaces() {
        let listing = "pv-10-0-client (id: 3)\npv-20-1-router\nblue (id: 0)\npv-x-1\n";
        let got = stale(listing, |pid| pid == 20);
        assert_eq!(got, vec!["pv-10-0-client"]);
    }
}
