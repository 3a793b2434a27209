//! The config loader and validator (`config::parse`: TOML → serde →
//! `validate` → problems located by line): no panic; every problem is
//! located inside the file and printable; a valid config renders a ruleset
//! and diffs empty against itself.

/// Parses `data` as a config file's text.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parvis::config::parse(text) {
        Err(err) => {
            assert!(!err.problems.is_empty(), "an error without a problem");
            let lines = text.split('\n').count();
            for p in &err.problems {
                assert!(!p.message.is_empty(), "a problem without a message: {p:?}");
                if let Some(line) = p.line {
                    assert!((1..=lines).contains(&line), "line {line} of {lines}: {p}");
                }
            }
            assert!(!err.to_string().is_empty());
        }
        Ok(cfg) => {
            let ruleset = parvis::firewall::render(&cfg);
            assert!(!ruleset.to_json().is_empty());
            let changes = parvis::change::diff(&cfg, &cfg);
            assert!(
                changes.is_empty(),
                "a config differs from itself: {changes:?}"
            );
        }
    }
}
