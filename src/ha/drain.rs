//! Draining user-space connections (the SNI/HTTP forwarder, the admin
//! port) on a planned handover. Their TCP state lives in the old master's
//! sockets; once the public VIP moves, the router sends their packets to the
//! new master, which has no socket for them. So, for a bounded time:
//!
//! - the **old master** keeps the public VIP as a local /32 on the drain
//!   link (no ARP is answered for it: `arp_ignore = 1` on the public link),
//!   taken *before* it gives the VIP up, so it never stops serving before
//!   the new master owns the VIP;
//! - the **new master** relays every TCP packet to the public VIP that
//!   belongs to a connection it did not accept itself (no SYN of it went
//!   through this node: the connection's `ct mark` lacks this node's bit)
//!   to the old master, unchanged, inside VXLAN between the two node
//!   addresses (Neutron port security lets a port send only from its own
//!   addresses: a raw relayed packet would be dropped);
//! - the old master marks what comes out of the tunnel so that strict
//!   `rp_filter` accepts it (`src_valid_mark` and a policy route back into
//!   the tunnel), and never forwards anything from it.
//!
//! [`script`] and [`relay_script`] are pure (nft text); the rest runs `ip`
//! and `nft` and reads `/proc/net/tcp`. Does I/O.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::Ha;

/// The drain link (a VXLAN device between the two node addresses).
pub const LINK: &str = "parvis-drain";
/// UDP port of the drain tunnel (accepted only from the peer).
pub const PORT: u16 = crate::config::DRAIN_PORT;
/// VXLAN network id of the drain tunnel.
const VNI: u32 = 7011;
/// Routing table and rule preference for the tunnel's reverse path.
const TABLE: u32 = 7011;
/// Packet mark of what arrives through the tunnel.
const FWMARK: u32 = 0x7011;
/// The nft table of the drain (not `inet parvis`: applies replace that).
const NFT_TABLE: &str = "parvis_ha";
/// How long the old master keeps serving its connections at most.
pub const DRAIN: Duration = Duration::from_secs(30);
/// Longest relay a peer may ask for.
pub const MAX_RELAY: Duration = Duration::from_secs(600);

/// Asks the peer to relay this node's connections for a time.
pub type RelayFn =
    Arc<dyn Fn(Duration) -> futures::future::BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// What the drain needs to know about the pair, from this node's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The public VIP.
    pub vip: Ipv4Addr,
    /// This node's internal address.
    pub me: Ipv4Addr,
    /// The peer's internal address.
    pub peer: Ipv4Addr,
    /// This node's index in `ha.node` (0 or 1).
    pub index: usize,
}

impl Plan {
    /// The plan for the node at `me`; `None` when an address is not IPv4
    /// (the drain tunnel is IPv4 only) or `me` is not a node.
    pub fn new(ha: &Ha, me: IpAddr) -> Option<Plan> {
        let index = ha.nodes.iter().position(|n| n.address == me)?;
        let v4 = |a: IpAddr| match a {
            IpAddr::V4(v) => Some(v),
            IpAddr::V6(_) => None,
        };
        Some(Plan {
            vip: v4(ha.vip_public.0.addr())?,
            me: v4(me)?,
            peer: v4(ha.nodes[1 - index].address)?,
            index,
        })
    }
    /// The `ct mark` bit of connections this node accepted.
    pub fn bit(&self) -> u32 {
        0x100 << self.index
    }
    fn mac(index: usize) -> String {
        format!("02:70:76:00:00:{:02x}", index + 1)
    }
}

/// The drain's nft table: marks SYNs to the public VIP with this node's
/// bit, marks what leaves the tunnel (reverse path), and never forwards
/// anything that came out of it.
pub fn script(plan: &Plan) -> String {
    format!(
        "table ip {NFT_TABLE} {{}}\n\
         delete table ip {NFT_TABLE}\n\
         table ip {NFT_TABLE} {{\n\
         \tchain tunnel_in {{\n\
         \t\ttype filter hook prerouting priority mangle; policy accept;\n\
         \t\tiifname \"{LINK}\" meta mark set {FWMARK:#x}\n\
         \t\tip daddr {vip} tcp flags & (syn | ack) == syn ct state new ct mark set ct mark | {bit:#x}\n\
         \t}}\n\
         \tchain tunnel_out {{\n\
         \t\ttype filter hook forward priority filter - 10; policy accept;\n\
         \t\tiifname \"{LINK}\" drop\n\
         \t}}\n\
         }}\n",
        vip = plan.vip,
        bit = plan.bit(),
    )
}

/// The relay chain of the new master: after DNAT (forwarded flows no
/// longer go to the VIP), a TCP packet from outside to the VIP of a
/// connection this node did not accept goes to the peer through the
/// tunnel. This node's own connections to the VIP (its health probe
/// among them) come in on `lo` and are never relayed.
pub fn relay_script(plan: &Plan) -> String {
    format!(
        "table ip {NFT_TABLE} {{\n\
         \tchain relay {{\n\
         \t\ttype filter hook prerouting priority dstnat + 10; policy accept;\n\
         \t\tiifname != \"lo\" ip daddr {vip} meta l4proto tcp ct mark & {bit:#x} == 0 counter dup to {peer} device \"{LINK}\" drop\n\
         \t}}\n\
         }}\n",
        vip = plan.vip,
        bit = plan.bit(),
        peer = plan.peer,
    )
}

fn run_sync(program: &str, args: &[&str], input: Option<&str>) -> Result<(), String> {
    use std::io::Write;
    let mut cmd = std::process::Command::new(program);
    cmd.args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("{program}: {e}"))?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| format!("{program}: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

async fn run(
    program: &'static str,
    args: Vec<String>,
    input: Option<String>,
) -> Result<(), String> {
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        run_sync(program, &a, input.as_deref())
    })
    .await
    .map_err(|e| e.to_string())?
}

fn sysctl(key: &str, value: &str) -> Result<(), String> {
    let path = format!("/proc/sys/net/ipv4/conf/{key}");
    std::fs::write(&path, value).map_err(|e| format!("{path}: {e}"))
}

/// Creates the tunnel, the reverse-path route and the nft table (again
/// if they exist). `public` is the public link (`arp_ignore = 1`, so a
/// draining node never answers ARP for the VIP it gave up). Blocking.
pub fn setup(plan: &Plan, public: &str) -> Result<(), String> {
    teardown();
    let (me, peer, vip) = (
        plan.me.to_string(),
        plan.peer.to_string(),
        plan.vip.to_string(),
    );
    let (mac, peer_mac) = (Plan::mac(plan.index), Plan::mac(1 - plan.index));
    let (vni, port, table) = (VNI.to_string(), PORT.to_string(), TABLE.to_string());
    let ip = |a: &[&str]| run_sync("ip", a, None);
    ip(&[
        "link", "add", LINK, "address", &mac, "mtu", "1500", "type", "vxlan", "id", &vni, "local",
        &me, "remote", &peer, "dstport", &port,
    ])?;
    ip(&["link", "set", LINK, "up"])?;
    // The relay's next hop is the packet's own destination (the VIP): the
    // peer's tunnel end, fixed here rather than asked by ARP.
    ip(&[
        "neigh",
        "replace",
        &vip,
        "lladdr",
        &peer_mac,
        "dev",
        LINK,
        "nud",
        "permanent",
    ])?;
    sysctl(&format!("{LINK}/src_valid_mark"), "1")?;
    sysctl(&format!("{public}/arp_ignore"), "1")?;
    let mark = format!("{FWMARK:#x}");
    ip(&[
        "rule", "add", "fwmark", &mark, "lookup", &table, "pref", &table,
    ])?;
    ip(&["route", "replace", "default", "dev", LINK, "table", &table])?;
    run_sync("nft", &["-f", "-"], Some(&script(plan)))
}

/// Removes everything [`setup`] made (what is missing is skipped). Blocking.
pub fn teardown() {
    let table = TABLE.to_string();
    let _ = run_sync("ip", &["link", "del", LINK], None);
    while run_sync("ip", &["rule", "del", "pref", &table], None).is_ok() {}
    let _ = run_sync("ip", &["route", "flush", "table", &table], None);
    let _ = run_sync("nft", &["delete", "table", "ip", NFT_TABLE], None);
}

/// Until when the relay of the peer's connections runs (one per daemon).
static RELAY_UNTIL: Mutex<Option<Instant>> = Mutex::new(None);

/// Relays the peer's connections for `within` (capped at [`MAX_RELAY`];
/// zero stops at once), then removes the relay.
pub async fn relay(plan: Plan, within: Duration) -> Result<(), String> {
    let within = within.min(MAX_RELAY);
    let until = Instant::now() + within;
    if let Ok(mut u) = RELAY_UNTIL.lock() {
        *u = Some(until);
    }
    if within.is_zero() {
        return stop_relay().await;
    }
    run(
        "nft",
        vec!["-f".into(), "-".into()],
        Some(relay_script(&plan)),
    )
    .await?;
    tokio::spawn(async move {
        tokio::time::sleep_until(until.into()).await;
        let mine = RELAY_UNTIL.lock().is_ok_and(|u| *u == Some(until));
        if mine {
            let _ = stop_relay().await;
        }
    });
    Ok(())
}

async fn stop_relay() -> Result<(), String> {
    let args = ["delete", "chain", "ip", NFT_TABLE, "relay"];
    match run("nft", args.map(String::from).to_vec(), None).await {
        Ok(()) => Ok(()),
        Err(e) if e.contains("No such file") => Ok(()),
        Err(e) => Err(e),
    }
}

/// The old master keeps (`true`) or lets go of the public VIP as a local
/// address on the drain link.
pub async fn hold(plan: &Plan, on: bool) -> Result<(), String> {
    let addr = format!("{}/32", plan.vip);
    let verb = if on { "replace" } else { "del" };
    run(
        "ip",
        ["addr", verb, &addr, "dev", LINK]
            .map(String::from)
            .to_vec(),
        None,
    )
    .await
}

/// Established TCP connections whose local address is `vip`, from the text
/// of `/proc/net/tcp`.
pub fn established_on(proc_net_tcp: &str, vip: Ipv4Addr) -> usize {
    let hex = format!("{:08X}", u32::from_le_bytes(vip.octets()));
    proc_net_tcp
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[1].split(':').next() == Some(hex.as_str()) && f[3] == "01"
        })
        .count()
}

/// Waits until no connection on the VIP is left or `within` passes;
/// returns how many were left.
pub async fn wait_drained(vip: Ipv4Addr, within: Duration) -> usize {
    let deadline = Instant::now() + within;
    loop {
        let text = tokio::fs::read_to_string("/proc/net/tcp")
            .await
            .unwrap_or_default();
        let left = established_on(&text, vip);
        if left == 0 || Instant::now() >= deadline {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
#[path = "drain_tests.rs"]
mod tests;
