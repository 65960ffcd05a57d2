#!/usr/bin/env bash
# Builds the edge worker into build/ (build/worker/shim.mjs + build/worker/index.wasm) with the
# project's own JS entry (src/adapter/shim.js, see the comment there). Extra arguments go to
# worker-build, e.g. `-d bench/.out/prof-build`. Used by scripts/build.sh, wrangler.toml's
# [build] and bench/run.sh, so every consumer runs the same entry.
set -euo pipefail
cd "$(dirname "$0")/.."
WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen)}"
CUSTOM_SHIM="$PWD/src/adapter/shim.js"
export WASM_BINDGEN_BIN CUSTOM_SHIM
exec worker-build --release "$@"
