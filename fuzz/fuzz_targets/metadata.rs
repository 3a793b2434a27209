//! Fuzz target `metadata`: the checks live in `parvis_fuzz::metadata`, shared with
//! the stable corpus replay in `tests/fuzz_corpus.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| parvis_fuzz::metadata::check(data));
