//! The sysctls the data path needs, written under `/proc/sys/net` of the
//! current network namespace (all of them are per-namespace on Linux >= 4.12,
//! `tcp_syncookies` included). I/O.
//!
//! - forwarding on (IPv4 and IPv6);
//! - `rp_filter = 1` (strict): a packet is accepted only on the interface
//!   its source routes back through. The ruleset matches addresses, not
//!   interface names (they are unknown without `[interfaces]`), so strict
//!   reverse-path filtering is what stops a packet from the public side that
//!   claims an internal source (`egress.masquerade`, forwards without
//!   masquerade). The appliance has one route per side, so routing is
//!   symmetric and strict mode drops nothing legitimate;
//! - `tcp_syncookies = 1`: SYN floods do not fill the backlog;
//! - no ICMP redirects, accepted or sent, on every interface and as default.

use std::path::Path;

use super::error::FirewallError;

const FIXED: &[(&str, &str)] = &[
    ("net/ipv4/ip_forward", "1"),
    ("net/ipv4/conf/all/forwarding", "1"),
    ("net/ipv6/conf/all/forwarding", "1"),
    ("net/ipv4/conf/all/rp_filter", "1"),
    ("net/ipv4/conf/default/rp_filter", "1"),
    ("net/ipv4/tcp_syncookies", "1"),
];

/// Per-interface keys set to 0 under `conf/*` (all, default, each link).
const NO_REDIRECTS: &[(&str, &str)] = &[
    ("net/ipv4/conf", "accept_redirects"),
    ("net/ipv4/conf", "send_redirects"),
    ("net/ipv4/conf", "secure_redirects"),
    ("net/ipv6/conf", "accept_redirects"),
];

/// Sets forwarding, reverse-path filtering, SYN cookies and redirects in the
/// current network namespace.
pub fn sysctls() -> Result<(), FirewallError> {
    let root = Path::new("/proc/sys");
    for (key, value) in FIXED {
        write(root, key, value)?;
    }
    for (dir, leaf) in NO_REDIRECTS {
        let links = std::fs::read_dir(root.join(dir)).map_err(|source| FirewallError::Sysctl {
            key: dotted(dir),
            source,
        })?;
        for link in links.flatten() {
            let name = link.file_name();
            let key = format!("{dir}/{}/{leaf}", name.to_string_lossy());
            write(root, &key, "0")?;
        }
    }
    Ok(())
}

fn write(root: &Path, key: &str, value: &str) -> Result<(), FirewallError> {
    std::fs::write(root.join(key), value).map_err(|source| FirewallError::Sysctl {
        key: dotted(key),
        source,
    })
}

fn dotted(key: &str) -> String {
    key.replace('/', ".")
}
