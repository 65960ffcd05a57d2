#!/usr/bin/env bash
# The quick loop (`npm run test:quick`): the native tests (cargo test: the core, the protocol,
# the store's rules) and the edge's workerd suite (tests/edge), on a fresh edge build. No
# lints, no browser, no store/session suites: `bash scripts/test.sh` runs everything.
set -euo pipefail
cd "$(dirname "$0")/.."
export WRANGLER_SEND_METRICS=false WRANGLER_HIDE_BANNER=true CLOUDFLARE_CF_FETCH_ENABLED=false

start=$(date +%s)
step() { printf '\n==> %s (at %d s)\n' "$*" "$(( $(date +%s) - start ))" >&2; }

bash scripts/setup.sh --no-browser

step "native tests (cargo test)"
cargo test --workspace --quiet

step "build the edge worker"
bash scripts/build-edge.sh >/dev/null

# Two files at a time: most of a file's time is waiting (workerd start-up, JWKS timeouts), and
# node's default on a 2-core machine is one file at a time.
step "the edge in workerd (node --test --test-concurrency=2 tests/edge/)"
node --test --test-concurrency=2 tests/edge/

echo "test:quick wall time: $(( $(date +%s) - start )) s (load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a))" >&2
