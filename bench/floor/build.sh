#!/usr/bin/env bash
# Builds the floor (src/lib.rs) into bench/floor/pkg: cargo for wasm32, then the wasm-bindgen
# CLI the edge's build uses (scripts/setup.sh installs it at the crate's version).
set -euo pipefail
cd "$(dirname "$0")"
cargo build --quiet --release --target wasm32-unknown-unknown --target-dir ../.out/floor-target
"${WASM_BINDGEN_BIN:-wasm-bindgen}" --target web --out-dir pkg ../.out/floor-target/wasm32-unknown-unknown/release/bench_floor.wasm
