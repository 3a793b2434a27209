//! Running the `nft` binary: JSON in on stdin, JSON or text out, nft's own
//! error text kept for the operator. I/O (spawns `nft` in the current
//! network namespace).

use std::io::Write;
use std::process::{Command, Stdio};

use super::error::FirewallError;

/// The program run; found on `PATH`.
const NFT: &str = "nft";

/// Runs `nft ARGS` with `input` on stdin; returns stdout on success.
pub fn run(
    action: &'static str,
    args: &[&str],
    input: Option<&str>,
) -> Result<String, FirewallError> {
    let mut child = Command::new(NFT)
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => FirewallError::NftMissing,
            _ => FirewallError::NftIo { action, source: e },
        })?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        // A write error (nft exited early) is reported through its stderr below.
        let _ = stdin.write_all(text.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|source| FirewallError::NftIo { action, source })?;
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if !out.status.success() {
        if stderr.contains("No such file or directory") && args.contains(&"list") {
            return Err(FirewallError::NoTable);
        }
        return Err(FirewallError::Refused { action, stderr });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `nft -j -f -` with a JSON batch (one transaction).
pub fn load(action: &'static str, json: &str, check_only: bool) -> Result<(), FirewallError> {
    let args: &[&str] = if check_only {
        &["-c", "-j", "-f", "-"]
    } else {
        &["-j", "-f", "-"]
    };
    run(action, args, Some(json)).map(|_| ())
}

/// `table inet parvis` without set contents, parsed: `{"nftables": [...]}`
/// holding only this table's objects.
///
/// Read from `nft -j -t list ruleset`: nft 1.0.6 still fetches every set
/// element for `-t list table` (about 1 s with 50,000 blocked prefixes),
/// but not for `-t list ruleset` (about 0.2 s). Other tables are only read.
pub fn list_table_terse() -> Result<serde_json::Value, FirewallError> {
    let all = parse(
        "list ruleset",
        &run("list the ruleset", &["-j", "-t", "list", "ruleset"], None)?,
    )?;
    let ours = |o: &serde_json::Value| {
        o.as_object()
            .and_then(|m| m.values().next())
            .is_some_and(|v| {
                let table = v.get("table").or_else(|| v.get("name"));
                v.get("family").and_then(|f| f.as_str()) == Some("inet")
                    && table.and_then(|t| t.as_str()) == Some("parvis")
            })
    };
    let objects: Vec<serde_json::Value> = all
        .get("nftables")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter(|o| ours(o))
        .cloned()
        .collect();
    let has_table = objects.iter().any(|o| o.get("table").is_some());
    if !has_table {
        return Err(FirewallError::NoTable);
    }
    Ok(serde_json::json!({ "nftables": objects }))
}

/// What `list_objects` asks for. Not `counters`: listing named counters
/// makes nft 1.0.6 fetch the whole ruleset with every set element (0.4 s
/// of CPU with 50,000 blocked prefixes).
const OBJECTS: [&str; 4] = ["chains", "sets", "maps", "flowtables"];

/// The chains, sets, maps and flowtables of `table inet parvis`, without
/// rules or set elements, as one list of objects
/// (`{"chain": {...}}`, `{"set": {...}}`…).
///
/// One `nft -j -t -f -` with a `list` command per kind: a few
/// milliseconds of CPU whatever the size of the sets and the number of
/// rules (a terse `list ruleset` takes 0.2 s of CPU with 2,500 rules,
/// `list chain` fetches every set element).
pub fn list_objects() -> Result<Vec<serde_json::Value>, FirewallError> {
    let cmds: Vec<serde_json::Value> = OBJECTS
        .iter()
        .map(|k| serde_json::json!({"list": {*k: {"family": "inet", "table": "parvis"}}}))
        .collect();
    let input = serde_json::json!({ "nftables": cmds }).to_string();
    let out = match run("list the table", &["-j", "-t", "-f", "-"], Some(&input)) {
        Err(FirewallError::Refused { stderr, .. })
            if stderr.contains("No such file or directory") =>
        {
            return Err(FirewallError::NoTable)
        }
        other => other?,
    };
    // One document per list command, one per line.
    let mut objects = Vec::new();
    for line in out.lines().filter(|l| !l.trim().is_empty()) {
        let doc = parse("list objects", line)?;
        if let Some(a) = doc.get("nftables").and_then(|v| v.as_array()) {
            objects.extend(a.iter().filter(|o| o.get("metainfo").is_none()).cloned());
        }
    }
    Ok(objects)
}

/// `nft -j list set inet parvis NAME`, parsed.
pub fn list_set(name: &str) -> Result<serde_json::Value, FirewallError> {
    parse(
        "list set",
        &run(
            "list a set",
            &["-j", "list", "set", "inet", "parvis", name],
            None,
        )?,
    )
}

fn parse(what: &'static str, text: &str) -> Result<serde_json::Value, FirewallError> {
    serde_json::from_str(text).map_err(|e| FirewallError::BadOutput {
        what,
        detail: e.to_string(),
    })
}

/// The objects of a listing (`{"nftables": [...]}`) of one kind (`rule`, `set`).
pub fn objects<'a>(
    doc: &'a serde_json::Value,
    kind: &'a str,
) -> impl Iterator<Item = &'a serde_json::Value> + 'a {
    doc.get("nftables")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter_map(move |o| o.get(kind))
}
