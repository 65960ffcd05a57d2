#!/usr/bin/env bash
# Runs the whole product locally: the edge worker, the reference session store and the demo
# app in one `wrangler dev`, on http://localhost:8787 (loopback only). Ctrl-C stops it.
# Installs no browser (scripts/setup.sh --no-browser).
set -euo pipefail
cd "$(dirname "$0")/.."
export WRANGLER_SEND_METRICS=false WRANGLER_HIDE_BANNER=true CLOUDFLARE_CF_FETCH_ENABLED=false
PORT=${PORT:-8787}

bash scripts/setup.sh --no-browser
bash scripts/build.sh

# Local secrets (never committed): each worker's .dev.vars from its .dev.vars.example, with a
# fresh cookie MAC key for the edge.
node scripts/dev-vars.mjs

echo "[dev] open http://localhost:$PORT/ and sign in as alice / alice-dev-password" >&2
exec npx wrangler dev \
  -c wrangler.toml -c session-store/wrangler.toml -c demo/wrangler.toml \
  --ip 127.0.0.1 --port "$PORT" --persist-to .wrangler/state --show-interactive-dev-session=false
