#!/usr/bin/env bash
# Builds the two Rust workers (edge and reference session store) into build/ folders.
set -euo pipefail
cd "$(dirname "$0")/.."
WASM_BINDGEN_BIN=$(command -v wasm-bindgen)
export WASM_BINDGEN_BIN
echo "[build] edge-session" >&2
bash scripts/build-edge.sh
if [ -f session-store/Cargo.toml ]; then
  echo "[build] session-store" >&2
  (cd session-store && worker-build --release)
fi
