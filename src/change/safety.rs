//! The safety net: would a change cut the operator's own access? Pure.

use std::net::IpAddr;

use crate::config::{canonical_ip, Config};

/// How long a forced change that cuts access waits for confirmation when
/// the caller gave no deadline.
pub const FORCED_CONFIRM: std::time::Duration = std::time::Duration::from_secs(60);

/// Why `new` would cut off `source` (the address the change came from),
/// or `None` if it would not. Only a source that `old` lets in can be cut.
pub fn lockout(old: &Config, new: &Config, source: IpAddr) -> Option<String> {
    cut(old, new, source, "the address this change came from")
}

/// Why `new` would cut off `peer`, the address of an established admin or
/// SSH connection (a SIGHUP's stand-in for a caller), or `None`.
pub fn session_lockout(old: &Config, new: &Config, peer: IpAddr) -> Option<String> {
    cut(
        old,
        new,
        peer,
        "the address of an established admin or SSH connection",
    )
}

fn cut(old: &Config, new: &Config, source: IpAddr, whose: &str) -> Option<String> {
    let src = canonical_ip(source);
    // Loopback (an SSH tunnel to the admin port) is always let in by the
    // firewall, whatever admin.allow says.
    if src.is_loopback() {
        return None;
    }
    if !old.admin.allow.iter().any(|c| c.contains(src)) {
        return None;
    }
    if !new.admin.allow.iter().any(|c| c.contains(src)) {
        return Some(format!(
            "admin.allow would no longer include {src}, {whose}"
        ));
    }
    if let Some(c) = new.limits.block.iter().find(|c| c.contains(src)) {
        return Some(format!("limits.block {c} would drop {src}, {whose}"));
    }
    if old.admin.listen != new.admin.listen {
        return Some(format!(
            "the admin UI would move from {} to {}, away from {src}, {whose}",
            old.admin.listen, new.admin.listen
        ));
    }
    if old.admin.ssh_port != new.admin.ssh_port {
        return Some(format!(
            "SSH would move from port {} to {}, away from {src}, {whose}",
            old.admin.ssh_port, new.admin.ssh_port
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    fn config(allow: &str, extra: &str) -> Config {
        let text = format!(
            "[admin]\nallow = [{allow}]\n{extra}\n[[forward]]\nproto = \"tcp\"\nport = 2222\nto = \"10.0.0.20:22\"\n"
        );
        parse(&text).expect("parses")
    }

    #[test]
    fn cuts_and_non_cuts() {
        let src: IpAddr = "198.51.100.7".parse().expect("ip");
        let old = config("\"198.51.100.0/24\"", "");
        assert_eq!(lockout(&old, &old, src), None);
        let narrower = config("\"198.51.100.128/25\"", "");
        let why = lockout(&old, &narrower, src).expect("cut");
        assert!(why.contains("198.51.100.7"), "{why}");
        let mapped: IpAddr = "::ffff:198.51.100.7".parse().expect("ip");
        assert!(lockout(&old, &narrower, mapped).is_some());
        // A source the old config did not let in cannot be cut.
        let other: IpAddr = "203.0.113.9".parse().expect("ip");
        assert_eq!(lockout(&old, &narrower, other), None);
        let ssh = config("\"198.51.100.0/24\"", "ssh_port = 2200\n");
        assert!(lockout(&old, &ssh, src).expect("cut").contains("SSH"));
        let port = config("\"198.51.100.0/24\"", "listen = \"0.0.0.0:9443\"\n");
        assert!(lockout(&old, &port, src).expect("cut").contains("9443"));
        let blocked = config(
            "\"198.51.100.0/24\"",
            "[limits]\nblock = [\"198.51.100.0/28\"]\n",
        );
        assert!(lockout(&old, &blocked, src)
            .expect("cut")
            .contains("limits.block"));
        let wider = config("\"198.51.100.0/24\", \"203.0.113.0/24\"", "");
        assert_eq!(lockout(&old, &wider, src), None);
    }

    #[test]
    fn a_session_peer_is_named_as_such() {
        let peer: IpAddr = "198.51.100.7".parse().expect("ip");
        let old = config("\"198.51.100.0/24\"", "");
        let narrower = config("\"198.51.100.128/25\"", "");
        let why = session_lockout(&old, &narrower, peer).expect("cut");
        assert!(
            why.contains("198.51.100.7, the address of an established admin or SSH connection"),
            "{why}"
        );
        assert_eq!(session_lockout(&old, &old, peer), None);
    }

    #[test]
    fn loopback_is_never_cut() {
        let everyone = config("\"0.0.0.0/0\"", "");
        let narrow = config("\"198.51.100.0/24\"", "");
        for lo in ["127.0.0.1", "::1", "::ffff:127.0.0.1"] {
            let src: IpAddr = lo.parse().expect("ip");
            assert_eq!(lockout(&everyone, &narrow, src), None, "{lo}");
        }
    }
}
