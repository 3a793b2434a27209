//! Applies and config versions on the pair's nodes, for the HA tests'
//! "apply during a failover" scenario. Does I/O (`parvis apply`,
//! `parvis status`, `nft`).

use super::Pair;

/// Applies `text` on node `i` (`parvis apply --config`); true when it succeeded.
pub fn apply(p: &Pair, i: usize, name: &str, text: &str) -> bool {
    let path = p.dir.path().join(name);
    std::fs::write(&path, text).expect("write config");
    let out = std::process::Command::new(super::exe())
        .arg("apply")
        .arg("--config")
        .arg(&path)
        .arg("--socket")
        .arg(p.socket(i))
        .output()
        .expect("parvis apply");
    eprintln!(
        "apply on node {i}: {} {}",
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    out.status.success()
}

/// Node `i`'s config version in force and its history's numbers.
pub fn versions(p: &Pair, i: usize) -> (u64, Vec<u64>) {
    let json = |args: &[&str]| -> serde_json::Value {
        let out = std::process::Command::new(super::exe())
            .args(args)
            .args(["--json", "--socket"])
            .arg(p.socket(i))
            .output()
            .expect("parvis");
        serde_json::from_slice(&out.stdout).unwrap_or_default()
    };
    let running = json(&["status"])["ha"]["config_version"]
        .as_u64()
        .unwrap_or(0);
    let history = json(&["history"])
        .as_array()
        .map(|h| h.iter().filter_map(|e| e["version"].as_u64()).collect())
        .unwrap_or_default();
    (running, history)
}

/// The pair's config with one more forward (its port shows in the ruleset).
pub fn with_forward(p: &Pair, port: u16) -> String {
    format!(
        "{}\n[[forward]]\nproto = \"tcp\"\nport = {port}\nto = \"{}:{port}\"\n",
        p.text,
        parvis::lab::SERVER
    )
}

pub fn in_force_on_both(p: &Pair, port: u16) -> bool {
    (0..2).all(|i| {
        p.topo
            .node(i)
            .run(&["nft", "list", "table", "inet", "parvis"])
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("dport {port} ")))
    })
}
