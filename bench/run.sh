#!/usr/bin/env bash
# One command for the benchmark: builds the worker (release), then runs bench/bench.mjs, which
# starts the upstream and the three workers on loopback and drives each with wrk.
# Prints numbers; it is not part of the test suite. See bench/README.md for the knobs.
#   bash bench/run.sh            # one run (~5 minutes on 2 cores)
#   BENCH_RUNS=3 bash bench/run.sh   # three runs and their spread
#   BENCH_SKIP_BUILD=1 bash bench/run.sh   # measure build/worker/shim.mjs as it is
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null 2>&1; then
  echo "[bench] installing wrk (Debian)" >&2
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; fi
fi
if [ ! -d node_modules/hono ] || [ ! -d node_modules/jose ] || [ ! -d node_modules/miniflare ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ] && [ -z "${EDGE_WORKER_SCRIPT:-}" ]; then
  echo "[bench] building the worker (scripts/build-edge.sh)" >&2
  bash scripts/build-edge.sh >&2
fi
if [ "${BENCH_FLOOR:-1}" != 0 ]; then
  echo "[bench] building the wasm floor (bench/floor/build.sh)" >&2
  bash bench/floor/build.sh >&2
fi
exec node bench/bench.mjs "$@"
