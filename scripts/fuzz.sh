#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECS seconds each (default 300), one after another, on
# nightly (local only; CI runs the stable smoke harness tests/fuzz_smoke.rs instead).
# Seeds come from the smoke harness (FUZZ_WRITE_SEEDS=1); corpora stay in fuzz/corpus/.
# Usage: scripts/fuzz.sh [SECS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-300}; shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(token_inspect token_verify cookie_header forward_headers set_cookie_roundtrip)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz@0.13.2 --locked
FUZZ_WRITE_SEEDS=1 FUZZ_SMOKE_SECS=0 cargo test -q -p edge-session --test fuzz_smoke >/dev/null
cargo +nightly fuzz build -O
for t in "${targets[@]}"; do
  echo "==> $t (${secs}s)"
  cargo +nightly fuzz run -O "$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -max_len=16384 2>&1 | tail -n 4
done
