//! The lab router's floating-IP NAT as the Keystone/Neutron stand-in sets
//! it: 1:1 towards one node's own fixed address, or none. Does I/O (`ip
//! netns exec ... nft`, `conntrack`).

use std::net::Ipv4Addr;

use super::{LabError, FLOATING_IP};

/// The router's 1:1 NAT for the floating IP towards `fixed` (none: the
/// floating IP answers nothing), then the floating IP's conntrack entries
/// dropped, as Neutron's L3 agent does when it moves a floating IP.
pub(super) fn apply_nat(router: &str, fixed: Option<Ipv4Addr>) -> Result<(), LabError> {
    let rules = match fixed {
        Some(a) => format!(
            "\t\tchain prerouting {{ type nat hook prerouting priority dstnat; policy accept; ip daddr {FLOATING_IP} dnat to {a}; }}\n\
             \t\tchain postrouting {{ type nat hook postrouting priority srcnat; policy accept; ip saddr {a} snat to {FLOATING_IP}; }}\n"
        ),
        None => String::new(),
    };
    let text = format!(
        "table ip pv-floating-ip\ndelete table ip pv-floating-ip\ntable ip pv-floating-ip {{\n{rules}}}\n"
    );
    in_ns(router, &["nft", "-f", "-"], text.as_bytes(), true)?;
    // "0 flow entries have been deleted" exits 1; nothing to drop is fine.
    in_ns(
        router,
        &["conntrack", "-D", "-d", &FLOATING_IP.to_string()],
        b"",
        false,
    )?;
    Ok(())
}

/// Runs `args` in namespace `ns` with `input` on stdin (`ip netns exec`).
fn in_ns(ns: &str, args: &[&str], input: &[u8], check: bool) -> Result<(), LabError> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let command = format!("ip netns exec {ns} {}", args.join(" "));
    let spawn = |source| LabError::Spawn {
        command: command.clone(),
        source,
    };
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn)?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input).map_err(spawn)?;
    }
    let out = child.wait_with_output().map_err(spawn)?;
    if check && !out.status.success() {
        return Err(LabError::Failed {
            command,
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}
