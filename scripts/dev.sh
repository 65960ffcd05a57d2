#!/usr/bin/env bash
# Runs the whole product locally: the edge worker, the reference session store and the demo
# app in one `wrangler dev`, on http://localhost:8787 (loopback only). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
export WRANGLER_SEND_METRICS=false WRANGLER_HIDE_BANNER=true CLOUDFLARE_CF_FETCH_ENABLED=false
PORT=${PORT:-8787}

bash scripts/setup.sh
bash scripts/build.sh

# Local secrets for the edge (never committed): the store's dev client secret and a fresh
# cookie MAC key.
if [ ! -f .dev.vars ]; then
  key=$(node -e 'process.stdout.write(require("crypto").randomBytes(32).toString("base64url"))')
  cat > .dev.vars <<VARS
CLIENT_SECRET=dev-only-client-secret-change-me
COOKIE_KEYS=$key
VARS
  echo "[dev] wrote .dev.vars (local secrets)" >&2
fi
# The identity assertion's key (a fresh local one), and its public half for the demo app, which
# verifies every assertion (demo/.dev.vars: wrangler reads one per config directory).
if ! grep -q '^ASSERTION_KEY=' .dev.vars; then
  echo "ASSERTION_KEY=$(node scripts/gen-assertion-key.mjs)" >> .dev.vars
  echo "[dev] added ASSERTION_KEY to .dev.vars" >&2
fi
printf 'EDGE_JWKS=%s\n' "$(sed -n 's/^ASSERTION_KEY=//p' .dev.vars | node scripts/gen-assertion-key.mjs --public)" > demo/.dev.vars

echo "[dev] open http://localhost:$PORT/ and sign in as alice / alice-dev-password" >&2
exec npx wrangler dev \
  -c wrangler.toml -c session-store/wrangler.toml -c demo/wrangler.toml \
  --ip 127.0.0.1 --port "$PORT" --persist-to .wrangler/state --show-interactive-dev-session=false
