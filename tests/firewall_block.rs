//! `limits.block_file` and the apply that keeps unchanged sets, with real
//! nft and packets in three namespaces (client, appliance, server).
//! Needs root.

mod firewall_support;

use firewall_support::{blocked, Topo, PUBLIC};

const C1: &str = "198.51.100.10";
const C2: &str = "198.51.100.11";
const BLOCKED: &str = "203.0.113.5";

/// A config whose block list comes from `FILE` (replaced per test), with
/// C1 in `admin.allow` and forwards to the server.
fn config(file: &str, forwards: &[u16]) -> String {
    firewall_support::block_list_config(C1, file, forwards, "")
}

/// The IPv4 block set's name (`block4_…`) and kernel handle: the handle
/// changes only when the set is re-created.
fn block4(t: &Topo) -> (String, u64) {
    let out = t.exec(
        &t.appliance,
        &["nft", "-j", "-t", "list", "sets", "table", "inet", "parvis"],
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("nft JSON");
    doc["nftables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o.get("set"))
        .find_map(|s| {
            let name = s["name"].as_str()?;
            name.starts_with("block4_")
                .then(|| (name.to_string(), s["handle"].as_u64().unwrap_or(0)))
        })
        .unwrap_or_else(|| panic!("no block4_ set: {doc}"))
}

fn apply_text(t: &Topo, text: &str) -> std::process::Output {
    let path = t.config("parvis.toml", text);
    t.parvis(&["apply", "--config", &path.to_string_lossy()])
}

/// The file's prefixes are dropped (with the inline ones, comments and
/// overlaps allowed), and a source in `admin.allow` still reaches the
/// admin port although the list covers it; its other traffic is dropped.
#[test]
fn block_file_drops_its_prefixes_but_not_admin_allow_on_the_admin_port() {
    let mut t = Topo::new("bf");
    let s = t.server.clone();
    let a = t.appliance.clone();
    t.tell_peer_tcp(&s, 22);
    t.tell_peer_tcp(&a, 8443);
    let file = t.config(
        "block.txt",
        "# feed\n203.0.113.0/28 ; SBL1\n203.0.113.4/30\n\n198.51.100.10 # covers the operator\n",
    );
    t.apply(&config(&file.to_string_lossy(), &[2222]));
    assert_eq!(t.tcp(C2, PUBLIC, 2222, ""), Ok("10.0.0.1".into()));
    assert!(t.tcp(BLOCKED, PUBLIC, 2222, "").is_err(), "a listed source");
    assert!(t.tcp(C1, PUBLIC, 2222, "").is_err(), "C1 is listed too");
    assert_eq!(
        t.tcp(C1, PUBLIC, 8443, ""),
        Ok(C1.into()),
        "admin.allow reaches the admin port whatever the list says"
    );
    assert_eq!(
        blocked(&t),
        ["192.0.2.66", "198.51.100.10", "203.0.113.0/28"],
        "inline and file prefixes, overlaps merged"
    );
}

/// A bad line is refused with the file's name and line, by `apply` and by
/// `parvis check`, and nothing is loaded.
#[test]
fn a_bad_line_names_the_file_and_line() {
    let t = Topo::new("bfbad");
    let file = t.config("block.txt", "203.0.113.0/28\n# ok\n203.0.113.300\n");
    let text = config(&file.to_string_lossy(), &[2222]);
    let out = apply_text(&t, &text);
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(2), "{said}");
    let want = format!("{} line 3: \"203.0.113.300\" is not", file.display());
    assert!(said.contains(&want), "{said}");
    assert!(t.table_text().is_empty(), "nothing loaded");
    let path = t.config("parvis.toml", &text);
    let check = firewall_support::run(&[
        firewall_support::PARVIS,
        "check",
        "--config",
        &path.to_string_lossy(),
    ]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(!check.status.success(), "{said}");
    assert!(said.contains(&want), "{said}");
}

/// The file is read at every apply: a changed file with the same config
/// is loaded, and the set then holds exactly the new list (no stale
/// element), while a forward change keeps the set, elements and all.
#[test]
fn the_file_is_reread_and_an_unchanged_list_is_kept() {
    let t = Topo::new("bfre");
    let file = t.config("block.txt", "203.0.113.0/28\n198.51.100.64/26\n");
    let fname = file.to_string_lossy().to_string();
    t.apply(&config(&fname, &[2222]));
    let first = block4(&t);
    assert_eq!(
        blocked(&t),
        ["192.0.2.66", "198.51.100.64/26", "203.0.113.0/28"]
    );

    // A forward added, the list unchanged: the set is kept as loaded.
    let out = apply_text(&t, &config(&fname, &[2222, 2223]));
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("6 kept as loaded"), "{said}");
    assert_eq!(block4(&t), first, "the block set was not re-created");
    assert_eq!(
        blocked(&t),
        ["192.0.2.66", "198.51.100.64/26", "203.0.113.0/28"]
    );
    assert!(
        t.table_text().contains("forward[1]"),
        "the new forward is in"
    );

    // Same config, new file content: re-read, and exactly the new list.
    t.config("block.txt", "203.0.113.128/25\n");
    t.apply(&config(&fname, &[2222, 2223]));
    let (name, handle) = block4(&t);
    assert_ne!(name, first.0, "a new list, a new name");
    assert_ne!(handle, first.1, "the block set was re-created");
    assert_eq!(blocked(&t), ["192.0.2.66", "203.0.113.128/25"]);
}

/// A refused apply leaves the previous table in force, whole: on the
/// incremental path (sets kept) and with a changed list.
#[test]
fn a_refused_apply_leaves_the_previous_table_whole() {
    let t = Topo::new("bfatom");
    let file = t.config("block.txt", "203.0.113.0/28\n");
    let fname = file.to_string_lossy().to_string();
    t.apply(&config(&fname, &[2222]));
    let before = t.table_text();
    assert!(before.contains("203.0.113.0/28"), "{before}");
    for (content, forwards) in [
        ("203.0.113.0/28\n", &[2222, 2223][..]),
        ("198.51.100.0/24\n", &[2222][..]),
    ] {
        t.config("block.txt", content);
        let path = t.config("parvis.toml", &config(&fname, forwards));
        let out = t.parvis(&[
            "apply",
            "--config",
            &path.to_string_lossy(),
            "--inject-invalid-rule",
        ]);
        assert!(!out.status.success(), "the kernel refused the batch");
        assert_eq!(t.table_text(), before, "nothing changed ({content:?})");
    }
}
