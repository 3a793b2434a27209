//! Golden rulesets: every sample config, rendered, loaded into an empty
//! network namespace and listed, equals `nft/<name>.nft`. Needs root.

mod firewall_support;

use std::io::Write;

/// Every sample config, rendered, loaded into an empty namespace and listed,
/// equals its golden file `nft/<name>.nft` (`PARVIS_BLESS=1` rewrites them).
#[test]
fn golden_rulesets() {
    firewall_support::require_root();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut configs = vec![root.join("examples/parvis.toml")];
    let fixtures = std::fs::read_dir(root.join("tests/fixtures/firewall")).expect("fixtures");
    configs.extend(
        fixtures
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml")),
    );
    let bless = std::env::var_os("PARVIS_BLESS").is_some();
    let mut diffs = Vec::new();
    for path in &configs {
        let cfg = parvis::config::load(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        let text = listed(&parvis::firewall::render(&cfg).to_json());
        let name = path.file_stem().and_then(|s| s.to_str()).expect("name");
        let golden = root.join("nft").join(format!("{name}.nft"));
        if bless {
            std::fs::write(&golden, &text).expect("write golden");
        } else if std::fs::read_to_string(&golden).ok().as_deref() != Some(text.as_str()) {
            diffs.push(format!(
                "{name}: rendered ruleset differs from {golden:?}:\n{text}"
            ));
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

/// Loads nft JSON into a fresh namespace and returns `nft list table inet parvis`.
fn listed(json: &str) -> String {
    let ns = format!(
        "pv-{}-golden-{}",
        std::process::id(),
        GOLDEN.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    );
    let made = parvis::lab::Ns::create(&ns).unwrap_or_else(|e| panic!("namespace {ns}: {e}"));
    let mut child = std::process::Command::new("ip")
        .args(["netns", "exec", &ns, "nft", "-j", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("nft");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(json.as_bytes())
        .expect("write");
    let loaded = child.wait_with_output().expect("nft");
    let out = firewall_support::run(&[
        "ip", "netns", "exec", &ns, "nft", "list", "table", "inet", "parvis",
    ]);
    drop(made);
    assert!(
        loaded.status.success(),
        "nft refused: {}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

static GOLDEN: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
