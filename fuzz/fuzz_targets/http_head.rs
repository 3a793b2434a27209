//! Fuzz target `http_head`: the checks live in `parvis_fuzz::http_head`, shared with
//! the stable corpus replay in `tests/fuzz_corpus.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| parvis_fuzz::http_head::check(data));
