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

/// `nft -j [-t] list table inet parvis`, parsed.
pub fn list_table(terse: bool) -> Result<serde_json::Value, FirewallError> {
    let args: &[&str] = if terse {
        &["-j", "-t", "list", "table", "inet", "parvis"]
    } else {
        &["-j", "list", "table", "inet", "parvis"]
    };
    parse("list table", &run("list the table", args, None)?)
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
