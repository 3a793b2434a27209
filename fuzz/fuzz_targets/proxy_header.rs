//! Fuzz target `proxy_header`: the checks live in `parvis_fuzz::proxy_header`, shared with
//! the stable corpus replay in `tests/fuzz_corpus.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| parvis_fuzz::proxy_header::check(data));
