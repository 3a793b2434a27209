//! Applies sent as differences (`firewall::apply` in this process, on a
//! thread moved into the appliance namespace, as the daemon applies), with
//! real nft and packets in three namespaces. Needs root.

mod firewall_support;

use firewall_support::{blocked, Topo, PUBLIC};
use parvis::firewall::{self, ApplyReport, FirewallError};

const C1: &str = "198.51.100.10";
const C2: &str = "198.51.100.11";
const BLOCKED: &str = "203.0.113.5";

/// C1 in `admin.allow`, the block list from `file`, forwards to the server.
fn config(file: &str, forwards: &[u16]) -> String {
    let limits = "conn_rate = \"50/second\"\nconn_burst = 100\n";
    firewall_support::block_list_config(C1, file, forwards, limits)
}

/// Runs `f` on a thread inside namespace `ns`.
fn in_ns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let fd = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        nix::sched::setns(fd, nix::sched::CloneFlags::CLONE_NEWNET)
            .unwrap_or_else(|e| panic!("setns {path}: {e}"));
        f()
    })
    .join()
    .unwrap_or_else(|_| panic!("the thread in {ns} panicked"))
}

/// Applies `text` in the appliance, in this process.
fn apply(t: &Topo, text: &str) -> Result<ApplyReport, FirewallError> {
    let cfg = parvis::config::parse(text).unwrap_or_else(|e| panic!("config: {e}"));
    in_ns(&t.appliance, move || firewall::apply(&cfg))
}

/// Applies `text` with a rule the kernel refuses added at the end.
fn apply_refused(t: &Topo, text: &str) -> Result<ApplyReport, FirewallError> {
    let cfg = parvis::config::parse(text).unwrap_or_else(|e| panic!("config: {e}"));
    in_ns(&t.appliance, move || {
        let mut rs = firewall::render(&cfg);
        rs.rules.push(firewall::diag::refused_rule());
        firewall::apply_ruleset(&rs)
    })
}

/// The block sets' names and handles (a handle changes only when the set
/// is re-created).
fn block_sets(t: &Topo) -> Vec<String> {
    let out = t.exec(
        &t.appliance,
        &["nft", "-a", "-t", "list", "sets", "table", "inet", "parvis"],
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.lines()
        .filter(|l| l.contains("set block"))
        .map(|l| l.trim().to_string())
        .collect()
}

/// A forward added is sent as a few rules (the 50-rule table is not
/// re-created), the block set stays loaded with every element, and the
/// new forward, the block list and admin.allow all work; then a changed
/// list is swapped in the same way and the set holds exactly the new list.
#[test]
fn a_forward_or_list_change_is_sent_as_a_difference() {
    let mut t = Topo::new("df");
    let s = t.server.clone();
    let a = t.appliance.clone();
    t.tell_peer_tcp(&s, 22);
    t.tell_peer_tcp(&a, 8443);
    let file = t.config("block.txt", "203.0.113.0/28\n198.51.100.10\n");
    let fname = file.to_string_lossy().to_string();
    t.apply(&config(&fname, &[2222]));
    let full = apply(&t, &config(&fname, &[2222])).expect("apply");
    assert_eq!(full.rules_changed, None, "nothing remembered yet: {full}");
    let sets = block_sets(&t);
    let want = ["192.0.2.66", "198.51.100.10", "203.0.113.0/28"];

    let one = apply(&t, &config(&fname, &[2222, 2223])).expect("apply");
    let changed = one.rules_changed.expect("sent as a difference");
    assert!((1..=8).contains(&changed), "{one}");
    assert_eq!(block_sets(&t), sets, "the block sets were kept");
    assert_eq!(blocked(&t), want, "every element is still there");
    assert!(
        t.table_text().contains("forward[1]"),
        "the new forward is in"
    );
    assert_eq!(t.tcp(C2, PUBLIC, 2223, ""), Ok("10.0.0.1".into()));
    assert!(t.tcp(BLOCKED, PUBLIC, 2223, "").is_err(), "still blocked");
    assert_eq!(
        t.tcp(C1, PUBLIC, 8443, ""),
        Ok(C1.into()),
        "admin.allow, listed"
    );
    assert!(t.tcp(C1, PUBLIC, 2222, "").is_err(), "C1 is listed");

    t.config("block.txt", "203.0.113.128/25\n");
    let list = apply(&t, &config(&fname, &[2222, 2223])).expect("apply");
    assert!(list.rules_changed.is_some(), "{list}");
    assert_ne!(block_sets(&t)[0], sets[0], "a new set for a new list");
    assert_eq!(
        blocked(&t),
        ["192.0.2.66", "203.0.113.128/25"],
        "exactly the new list"
    );
    assert_eq!(
        t.tcp(BLOCKED, PUBLIC, 2222, ""),
        Ok("10.0.0.1".into()),
        "unlisted"
    );
    assert_eq!(t.tcp(C1, PUBLIC, 8443, ""), Ok(C1.into()));
    let text = t.table_text();
    assert_eq!(
        text.matches("set block4_").count(),
        1,
        "the old set is gone: {text}"
    );
}

/// A refused difference (a forward change, then a list change) leaves the
/// table exactly as it was, the sets prepared for it removed; the next
/// apply still works.
#[test]
fn a_refused_difference_leaves_the_table_whole() {
    let t = Topo::new("dfatom");
    let file = t.config("block.txt", "203.0.113.0/28\n");
    let fname = file.to_string_lossy().to_string();
    apply(&t, &config(&fname, &[2222])).expect("apply");
    let before = t.table_text();
    for (content, forwards) in [
        ("203.0.113.0/28\n", &[2222, 2223][..]),
        ("198.51.100.0/24\n", &[2222][..]),
    ] {
        t.config("block.txt", content);
        let err = apply_refused(&t, &config(&fname, forwards)).expect_err("refused");
        assert!(err.to_string().contains("refused"), "{err}");
        assert_eq!(t.table_text(), before, "nothing changed ({content:?})");
    }
    let ok = apply(&t, &config(&fname, &[2222, 2224])).expect("apply");
    assert!(t.table_text().contains("dport 2224"), "{ok}");
}

/// A rule added by hand is noticed (its handle is not remembered): the
/// next apply re-creates the table and the stray rule is gone.
#[test]
fn a_rule_added_by_hand_makes_the_next_apply_recreate_the_table() {
    let t = Topo::new("dfhand");
    let file = t.config("block.txt", "203.0.113.0/28\n");
    let fname = file.to_string_lossy().to_string();
    apply(&t, &config(&fname, &[2222])).expect("apply");
    let out = t.exec(
        &t.appliance,
        &[
            "nft", "add", "rule", "inet", "parvis", "input", "tcp", "dport", "9999", "accept",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let next = apply(&t, &config(&fname, &[2222, 2223])).expect("apply");
    assert_eq!(next.rules_changed, None, "{next}");
    assert!(!t.table_text().contains("9999"), "the stray rule is gone");
    let again = apply(&t, &config(&fname, &[2222])).expect("apply");
    assert!(again.rules_changed.is_some(), "{again}");
}
