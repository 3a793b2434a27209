//! `limits.conn_max` against forged SYNs: half-open connections "from" a
//! victim whose host does not answer the appliance's SYN-ACKs (behind a
//! stateful firewall or NAT, as most clients are) must not use up the
//! victim's `conn_max`. Root, the real daemon in the lab, real TCP.

mod attack_support;
mod e2e_support;

use std::time::Duration;

use attack_support::{flood, forge_syns, hold};
use e2e_support::*;
use parvis::lab::{Ns, APPLIANCE_PUBLIC, CLIENT, CLIENT_2, FLOATING_IP};

/// The lab's config with `conn_max = 5`.
fn five(text: String) -> String {
    let from = "conn_max = 500";
    assert!(text.contains(from), "{text}");
    text.replace(from, "conn_max = 5")
}

/// Makes `ns` behave like a host behind a stateful firewall: a SYN-ACK it
/// did not ask for is dropped, not answered with a reset.
fn silent(ns: &Ns) {
    let script = "table inet pv_victim {\n chain input {\n  type filter hook input priority 0;\n  \
                  meta l4proto tcp ct state invalid drop\n }\n}\n";
    ns.run_with_input(&["nft", "-f", "-"], script.as_bytes())
        .unwrap_or_else(|e| panic!("victim firewall: {e}"));
}

#[test]
fn forged_syns_do_not_use_up_a_victims_conn_max() {
    let lab = lab_with(five);
    let client = lab.topo.client();
    silent(client);
    let victim = CLIENT_2.to_string();
    let fip = FLOATING_IP.to_string();
    assert_eq!(flood(client, &victim, &fip, 443, 1), 1, "before the attack");
    let dst = APPLIANCE_PUBLIC.to_string();
    let sent = forge_syns(lab.topo.router(), &victim, &dst, &[443, 80], 20);
    assert_eq!(sent, 20);
    std::thread::sleep(Duration::from_millis(500));
    let answered = flood(client, &victim, &fip, 443, 3);
    assert_eq!(
        answered, 3,
        "20 forged SYNs from {victim} took its conn_max (5): {answered} of 3 served"
    );
}

/// The listeners' `conn_max` is counted by the forwarder, per source: a
/// sixth open connection is closed at once, another source has its own
/// count, the slots come back when connections end, and an apply that
/// changes `conn_max` takes effect.
#[test]
fn the_forwarder_caps_open_connections_per_source() {
    let lab = lab_with(five);
    let client = lab.topo.client();
    let fip = FLOATING_IP.to_string();
    let (one, two) = (CLIENT.to_string(), CLIENT_2.to_string());
    assert_eq!(hold(client, &one, &fip, 443, 7), 5, "conn_max 5 from {one}");
    assert_eq!(
        hold(client, &two, &fip, 80, 3),
        3,
        "{two} has its own count"
    );
    assert_eq!(hold(client, &one, &fip, 80, 6), 5, "slots given back");
    // An apply that lowers conn_max reaches the forwarder.
    let two_max = lab.config_text().replace("conn_max = 5", "conn_max = 2");
    let file = lab.write("two.toml", &two_max);
    let out = lab.cli(&["apply", "--config", &file.to_string_lossy()]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        hold(client, &one, &fip, 443, 4),
        2,
        "conn_max 2 after the apply"
    );
}
