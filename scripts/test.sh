#!/usr/bin/env bash
# Runs every test suite: lint, native cargo tests, wasm tests in headless Chromium, and the
# workerd integration tests (Miniflare). Installs what is missing first (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
export WRANGLER_SEND_METRICS=false WRANGLER_HIDE_BANNER=true CLOUDFLARE_CF_FETCH_ENABLED=false
export CHROMEDRIVER=/usr/bin/chromedriver

step() { printf '\n==> %s\n' "$*" >&2; }

step "set-up"
bash scripts/setup.sh

step "format and lints (native and wasm32)"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy --workspace --all-targets --target wasm32-unknown-unknown -- -D warnings

step "native tests (cargo test)"
cargo test --workspace

step "Wycheproof counts per file"
cargo test -q -p edge-session --test wycheproof -- --nocapture

step "wasm tests in headless Chromium (wasm-pack test)"
WASM_BINDGEN_TEST_TIMEOUT=120 wasm-pack test --headless --chrome . --no-default-features

step "the Hono example's middleware (node:test)"
node --test examples/hono/test/

step "build the workers"
bash scripts/build.sh

step "production settings: wrangler deploy --dry-run of every worker, bundle sizes, no dev secret (deploy.sh --dry-run)"
bash scripts/deploy.sh --dry-run

step "integration tests in workerd (node:test + Miniflare)"
# Every test process records the secrets it used and the log lines of the workers it started
# (tests/log-scan.mjs); the scan after the run fails it if any line holds any of them.
EDGE_LOG_SCAN_DIR=$(mktemp -d)
export EDGE_LOG_SCAN_DIR
trap 'rm -rf "$EDGE_LOG_SCAN_DIR"' EXIT
node --test tests/

step "load smoke: 100 virtual users for 20 s through the whole stack, invariants asserted (load/run.mjs --smoke)"
node load/run.mjs --smoke

step "secret scan of every worker's log lines"
node tests/log-scan.mjs "$EDGE_LOG_SCAN_DIR"
