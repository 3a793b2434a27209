//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`) through the
//! fuzz targets' checks on stable Rust, so every `cargo test` runs the
//! fuzzers' seeds and past findings even without nightly. Reads files only.

#[path = "../fuzz/src/lib.rs"]
mod checks;

use std::path::Path;

/// Runs `check` on every file of one target's corpus; returns how many.
fn replay(target: &str, check: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut count = 0;
    for entry in entries {
        let path = entry.expect("directory entry").path();
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "{target}: {} fails", path.display());
        count += 1;
    }
    assert!(count > 0, "{target}: empty corpus in {}", dir.display());
    println!("{target}: replayed {count} inputs");
    count
}

#[test]
fn hello_corpus() {
    replay("hello", checks::hello::check);
}

#[test]
fn http_head_corpus() {
    replay("http_head", checks::http_head::check);
}

#[test]
fn proxy_header_corpus() {
    replay("proxy_header", checks::proxy_header::check);
}

#[test]
fn config_corpus() {
    replay("config", checks::config::check);
}

#[test]
fn metadata_corpus() {
    replay("metadata", checks::metadata::check);
}
