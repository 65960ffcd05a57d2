#![no_main]
//! cargo-fuzz target; the oracle lives in fuzz/oracles.rs (shared with tests/fuzz_smoke.rs).

#[path = "../oracles.rs"]
mod oracles;

libfuzzer_sys::fuzz_target!(|data: &[u8]| oracles::session_cookie(data));
