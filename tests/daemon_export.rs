//! `parvis export` against the real daemon in the lab: it prints the running
//! version's text byte for byte (comments and layout kept), and that text
//! passes `parvis check`, so a new VM can take it as user data.

mod e2e_support;

use e2e_support::*;

#[test]
fn export_prints_the_running_version_text_and_it_passes_check() {
    let lab = lab();
    // A change with a comment and odd layout: export must keep them.
    let text =
        lab.config_text() + "\n# exported as is\n[[forward]]\nport = 8082\nto = \"10.0.0.99:80\"\n";
    let new = lab.write("new.toml", &text);
    let out = lab.cli(&["apply", "--config", &new.to_string_lossy()]);
    assert!(out.status.success(), "{out:?}");

    let out = lab.cli(&["export"]);
    assert!(out.status.success(), "{out:?}");
    let exported = String::from_utf8(out.stdout).expect("utf-8");
    assert_eq!(exported, text, "export is the running version's text");

    let json = lab.cli(&["export", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    let history = lab.cli(&["history", "--json"]);
    let h: serde_json::Value = serde_json::from_slice(&history.stdout).expect("json");
    let newest = h
        .as_array()
        .and_then(|a| a.iter().filter_map(|v| v["version"].as_u64()).max())
        .expect("history has versions");
    assert_eq!(v["version"].as_u64(), Some(newest), "{v} vs {h}");
    assert_eq!(v["text"].as_str(), Some(text.as_str()));

    let file = lab.write("exported.toml", &exported);
    let check = std::process::Command::new(parvis_exe())
        .args(["check", "--config"])
        .arg(&file)
        .output()
        .expect("parvis check");
    assert!(check.status.success(), "{check:?}");
    assert_eq!(String::from_utf8_lossy(&check.stdout).trim(), "ok");
}

/// A redacted export (`parvis export --redact`, the UI's download) given
/// to a node with no pair key of its own is refused, naming the masked key,
/// instead of being applied with the mask as the pair's key; the running
/// version stays.
#[test]
fn a_redacted_export_is_refused_naming_the_masked_key() {
    let lab = lab();
    let before = lab.cli(&["export", "--json"]);
    let before: serde_json::Value = serde_json::from_slice(&before.stdout).expect("json");
    let masked = format!(
        "{}\n[ha]\nvrid = 51\nvip_public = \"192.168.10.4/24\"\nvip_internal = \"10.0.0.1/24\"\n\
         key = \"{}\"\n[[ha.node]]\nname = \"a\"\naddress = \"10.0.0.2\"\npriority = 200\n\
         [[ha.node]]\nname = \"b\"\naddress = \"10.0.0.3\"\npriority = 100\n",
        lab.config_text(),
        parvis::config::REDACTED
    );
    let file = lab.write("redacted.toml", &masked);
    let out = lab.cli(&["apply", "--config", &file.to_string_lossy()]);
    let said =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "refused as bad input: {said}");
    assert!(said.contains("ha.key") && said.contains("masked"), "{said}");
    let check = std::process::Command::new(parvis_exe())
        .args(["check", "--config"])
        .arg(&file)
        .output()
        .expect("parvis check");
    let said = String::from_utf8_lossy(&check.stdout).to_string()
        + &String::from_utf8_lossy(&check.stderr);
    assert!(!check.status.success() && said.contains("ha.key"), "{said}");
    let after = lab.cli(&["export", "--json"]);
    let after: serde_json::Value = serde_json::from_slice(&after.stdout).expect("json");
    assert_eq!(before["version"], after["version"], "nothing applied");
    assert_eq!(before["text"], after["text"]);
}
