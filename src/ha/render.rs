//! `keepalived.conf` and `conntrackd.conf` for one node, as text. Pure.
//!
//! keepalived: one VRRP v3 instance on the internal link, unicast between
//! the two node addresses, holding **both** VIPs (each on its own link).
//! One instance rather than two in a `vrrp_sync_group`: one state machine
//! cannot split the VIPs, and the adverts need node addresses on one
//! network only — the public side's addresses come from DHCP and are in no
//! config. `track_interface` on both links still sends the node to FAULT
//! when either link goes down. State BACKUP with `nopreempt` on both
//! nodes: a node that returns never takes the VIPs back.
//!
//! conntrackd: FTFW over UDP unicast between the internal addresses.

use std::fmt::Write;
use std::path::Path;

use super::{Paths, Place, CONNTRACKD_PORT, INSTANCE};
use crate::config::Ha;

/// What the rendered keepalived config runs besides VRRP.
#[derive(Debug, Clone)]
pub struct Hooks<'a> {
    /// The parvis binary: the `vrrp_script` runs `parvis ha check`.
    pub parvis: &'a Path,
    /// How old the health file may be before the node counts as hung.
    pub max_age_ms: u64,
    /// The user keepalived runs the health script as: the daemon's own
    /// (root in the lab, `_parvis` in the image).
    pub script_user: &'a str,
}

/// keepalived.conf for this node.
pub fn keepalived(ha: &Ha, place: &Place, paths: &Paths, hooks: &Hooks<'_>) -> String {
    let mut s = globals(place, paths, hooks);
    s.push_str(&instance(ha, place));
    s
}

/// `global_defs`, the health script and the standby track file.
fn globals(place: &Place, paths: &Paths, hooks: &Hooks<'_>) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Rendered by parvis for node {:?}; do not edit.",
        place.me.name
    );
    let _ = writeln!(
        s,
        "global_defs {{\n\
         \trouter_id parvis-{name}\n\
         \tvrrp_version 3\n\
         \tenable_script_security\n\
         \tscript_user {user}\n\
         \tmax_auto_priority -1\n\
         \tvrrp_notify_fifo {fifo}\n\
         \tvrrp_garp_master_delay 1\n\
         \tvrrp_garp_master_repeat 3\n\
         \tvrrp_garp_master_refresh 10\n\
         }}\n",
        name = place.me.name,
        user = hooks.script_user,
        fifo = quoted(&paths.notify_fifo()),
    );
    let _ = writeln!(
        s,
        "vrrp_script parvis_health {{\n\
         \tscript \"{parvis} ha check --file {health} --max-age-ms {age}\"\n\
         \tinterval 1\n\
         \ttimeout 1\n\
         \tfall 1\n\
         \trise 1\n\
         }}\n",
        parvis = hooks.parvis.display(),
        health = paths.health().display(),
        age = hooks.max_age_ms,
    );
    let _ = writeln!(
        s,
        "track_file parvis_standby {{\n\tfile {}\n\tweight 0\n}}\n",
        quoted(&paths.standby())
    );
    s
}

/// The one VRRP instance holding both VIPs.
fn instance(ha: &Ha, place: &Place) -> String {
    let advert = ha.advert.as_millis() as f64 / 1000.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "vrrp_instance {INSTANCE} {{\n\
         \tstate BACKUP\n\
         \tnopreempt\n\
         \tinterface {internal}\n\
         \tvirtual_router_id {vrid}\n\
         \tpriority {prio}\n\
         \tadvert_int {advert}\n\
         \tunicast_src_ip {src}\n\
         \tunicast_peer {{\n\t\t{peer}\n\t}}\n\
         \tcheck_unicast_src\n\
         \tvirtual_ipaddress {{\n\
         \t\t{vpub} dev {public}\n\
         \t\t{vint} dev {internal}\n\
         \t}}\n\
         \ttrack_interface {{\n\t\t{public}\n\t\t{internal}\n\t}}\n\
         \ttrack_script {{\n\t\tparvis_health\n\t}}\n\
         \ttrack_file {{\n\t\tparvis_standby\n\t}}\n\
         \tgarp_master_refresh 10\n\
         \tgarp_master_refresh_repeat 1\n\
         }}",
        internal = place.internal,
        public = place.public,
        vrid = ha.vrid,
        prio = place.me.priority,
        src = place.me.address,
        peer = place.peer.address,
        vpub = ha.vip_public.0,
        vint = ha.vip_internal.0,
    );
    s
}

/// conntrackd.conf for this node: FTFW over UDP between the two internal
/// addresses; the nodes' own addresses are not replicated (their traffic is
/// the sync channel and the admin port, not forwarded flows).
pub fn conntrackd(place: &Place, paths: &Paths) -> String {
    format!(
        "# Rendered by parvis for node {name:?}; do not edit.\n\
         Sync {{\n\
         \tMode FTFW {{\n\
         \t\tDisableExternalCache Off\n\
         \t\tStartupResync on\n\
         \t}}\n\
         \tUDP {{\n\
         \t\tIPv4_address {me}\n\
         \t\tIPv4_Destination_Address {peer}\n\
         \t\tPort {port}\n\
         \t\tInterface {internal}\n\
         \t\tSndSocketBuffer 1249280\n\
         \t\tRcvSocketBuffer 1249280\n\
         \t\tChecksum on\n\
         \t}}\n\
         }}\n\
         General {{\n\
         \tHashSize 32768\n\
         \tHashLimit 131072\n\
         \tLogFile {log}\n\
         \tSyslog off\n\
         \tLockFile {lock}\n\
         \tUNIX {{\n\t\tPath {sock}\n\t}}\n\
         \tNetlinkBufferSize 2097152\n\
         \tNetlinkBufferSizeMaxGrowth 8388608\n\
         \tFilter From Userspace {{\n\
         \t\tAddress Ignore {{\n\
         \t\t\tIPv4_address 127.0.0.1\n\
         \t\t\tIPv4_address {me}\n\
         \t\t\tIPv4_address {peer}\n\
         \t\t}}\n\
         \t}}\n\
         }}\n",
        name = place.me.name,
        me = place.me.address,
        peer = place.peer.address,
        port = CONNTRACKD_PORT,
        internal = place.internal,
        log = paths.conntrackd_log().display(),
        lock = paths.conntrackd_lock().display(),
        sock = paths.conntrackd_sock().display(),
    )
}

fn quoted(p: &Path) -> String {
    format!("\"{}\"", p.display())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ha::place::tests::ha;

    fn place_b() -> Place {
        let ha = ha();
        Place {
            me: ha.nodes[1].clone(),
            peer: ha.nodes[0].clone(),
            internal: "ens4".into(),
            public: "ens3".into(),
        }
    }

    fn text() -> String {
        let hooks = Hooks {
            parvis: Path::new("/usr/bin/parvis"),
            max_age_ms: 1000,
            script_user: "root",
        };
        keepalived(
            &ha(),
            &place_b(),
            &Paths::new(Path::new("/var/lib/b")),
            &hooks,
        )
    }

    #[test]
    fn keepalived_is_vrrp3_unicast_backup_nopreempt() {
        let t = text();
        for want in [
            "vrrp_version 3\n",
            "\tstate BACKUP\n",
            "\tnopreempt\n",
            "\tinterface ens4\n",
            "\tvirtual_router_id 51\n",
            "\tpriority 100\n",
            "\tadvert_int 1\n",
            "\tunicast_src_ip 10.0.0.3\n",
            "\tunicast_peer {\n\t\t10.0.0.2\n\t}\n",
            "\t\t192.168.10.4/24 dev ens3\n",
            "\t\t10.0.0.1/24 dev ens4\n",
            "\tgarp_master_refresh 10\n",
            "max_auto_priority -1\n",
            "script_user root\n",
            "vrrp_notify_fifo \"/var/lib/b/ha/notify.fifo\"\n",
        ] {
            assert!(t.contains(want), "missing {want:?} in\n{t}");
        }
        assert!(!t.contains("state MASTER"));
        assert!(!t.contains("mcast"), "no multicast anywhere");
    }

    #[test]
    fn keepalived_health_script_and_standby_file() {
        let t = text();
        assert!(t.contains("script \"/usr/bin/parvis ha check --file /var/lib/b/ha/health --max-age-ms 1000\"\n"), "{t}");
        assert!(
            t.contains(
                "track_file parvis_standby {\n\tfile \"/var/lib/b/ha/standby\"\n\tweight 0\n}"
            ),
            "{t}"
        );
        assert!(t.contains("\ttrack_interface {\n\t\tens3\n\t\tens4\n\t}\n"));
        assert!(t.contains("\ttrack_script {\n\t\tparvis_health\n\t}\n"));
    }

    #[test]
    fn advert_in_seconds_with_centiseconds() {
        let mut h = ha();
        h.advert = std::time::Duration::from_millis(350);
        let hooks = Hooks {
            parvis: Path::new("/p"),
            max_age_ms: 1000,
            script_user: "_parvis",
        };
        let t = keepalived(&h, &place_b(), &Paths::new(Path::new("/b")), &hooks);
        assert!(t.contains("\tadvert_int 0.35\n"), "{t}");
    }

    #[test]
    fn conntrackd_is_ftfw_unicast_between_nodes() {
        let t = conntrackd(&place_b(), &Paths::new(Path::new("/var/lib/b")));
        for want in [
            "\tMode FTFW {\n",
            "\t\tIPv4_address 10.0.0.3\n",
            "\t\tIPv4_Destination_Address 10.0.0.2\n",
            "\t\tPort 3780\n",
            "\t\tInterface ens4\n",
            "\tLockFile /var/lib/b/ha/conntrackd.lock\n",
            "\t\tPath /var/lib/b/ha/conntrackd.ctl\n",
        ] {
            assert!(t.contains(want), "missing {want:?} in\n{t}");
        }
        assert!(!t.contains("Multicast"));
    }
}
