#!/usr/bin/env bash
# Builds the edge worker into build/ (build/worker/shim.mjs + build/worker/index.wasm) with the
# project's own JS entry (src/adapter/shim.js, see the comment there). Extra arguments go to
# worker-build, e.g. `-d bench/.out/prof-build`. Used by scripts/build.sh, wrangler.toml's
# [build] and bench/run.sh, so every consumer runs the same entry and the same module.
#
# Then binaryen's wasm-opt -O3 (npm `binaryen`, a devDependency: wasm-pack's own wasm-opt step
# would download binaryen from GitHub) on the final module, after wasm-bindgen as wasm-bindgen
# advises. The crate is compiled for size (`opt-level = "z"`, the 300 KB gzip budget); wasm-opt
# then buys the hot path back for 3.8 KB gzipped (README, "Performance": 1.05-1.07x the warm
# throughput, 73 KB less raw). EDGE_WASM_OPT=0 skips it (a diagnostic build).
set -euo pipefail
cd "$(dirname "$0")/.."
WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen)}"
CUSTOM_SHIM="$PWD/src/adapter/shim.js"
export WASM_BINDGEN_BIN CUSTOM_SHIM

out=build
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    -d | --out-dir) out="${args[i + 1]:-build}" ;;
  esac
done

worker-build --release "$@"

if [ "${EDGE_WASM_OPT:-1}" != 0 ]; then
  wasm_opt="$PWD/node_modules/.bin/wasm-opt"
  if [ ! -x "$wasm_opt" ]; then
    echo "build-edge: $wasm_opt is missing: run scripts/setup.sh (npm ci) first" >&2
    exit 1
  fi
  wasm="$out/worker/index.wasm"
  # wasm-opt drops the name section unless told to keep it (-g): a build asked to keep its
  # symbols (bench/README's profiling build, CARGO_PROFILE_RELEASE_STRIP=false) keeps its names.
  keep_names=()
  if [ "${CARGO_PROFILE_RELEASE_STRIP:-}" = false ]; then keep_names=(-g); fi
  # The features rustc's wasm32 target emits (the module's target_features section is
  # stripped with the names, so wasm-opt cannot read them from it).
  "$wasm_opt" -O3 "${keep_names[@]}" \
    --enable-bulk-memory --enable-mutable-globals --enable-nontrapping-float-to-int \
    --enable-reference-types --enable-sign-ext --enable-multivalue \
    "$wasm" -o "$wasm.opt"
  mv "$wasm.opt" "$wasm"
  echo "build-edge: wasm-opt -O3: $wasm $(stat -c %s "$wasm") B" >&2
fi
