#!/usr/bin/env bash
# Idempotent set-up for a fresh machine of this kind: installs only what is missing or at the
# wrong version. Every tool here comes from crates.io, npm or Debian (nothing from GitHub).
# `--no-browser` skips Chromium and chromedriver (only the wasm tests in a browser and the
# browser test need them): scripts/dev.sh and scripts/test-quick.sh pass it.
set -euo pipefail
cd "$(dirname "$0")/.."

browser=1
for arg in "$@"; do
  case "$arg" in
    --no-browser) browser=0 ;;
    *) echo "setup.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done

WORKER_BUILD_VERSION=0.8.7
WASM_PACK_VERSION=0.15.1
# wasm-bindgen-cli must equal the wasm-bindgen version pinned in Cargo.toml / Cargo.lock.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/"/, "", $3); print $3; exit}' Cargo.lock 2>/dev/null || true)
WASM_BINDGEN_VERSION=${WASM_BINDGEN_VERSION:-0.2.130}

log() { printf '[setup] %s\n' "$*" >&2; }

has_version() { # has_version CMD VERSION
  command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | grep -qF "$2"
}

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

if ! has_version worker-build "$WORKER_BUILD_VERSION"; then
  log "installing worker-build $WORKER_BUILD_VERSION"
  cargo install worker-build@"$WORKER_BUILD_VERSION" --locked --force
fi

if ! has_version wasm-bindgen "$WASM_BINDGEN_VERSION"; then
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  # Not --locked: its lockfile pins a crate version the registry does not serve.
  cargo install wasm-bindgen-cli@"$WASM_BINDGEN_VERSION" --force
fi

if ! has_version wasm-pack "$WASM_PACK_VERSION"; then
  log "installing wasm-pack $WASM_PACK_VERSION"
  cargo install wasm-pack@"$WASM_PACK_VERSION" --locked --force
fi

if [ "$browser" = 1 ] && { ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; }; then
  log "installing chromium and chromium-driver"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# npm ci when node_modules is missing or was installed from another package-lock.json (a copy
# of the lock it was installed from is kept in it). Compared by content, not by date: a fresh
# checkout is newer than any install. A node_modules that is a link (a git worktree sharing
# another checkout's packages) is never touched: npm ci would empty the directory it points to.
if [ -f package-lock.json ]; then
  if [ -L node_modules ]; then
    log "node_modules is a link to $(readlink node_modules): left as it is"
  elif [ ! -d node_modules ] || ! cmp -s package-lock.json node_modules/.installed-package-lock.json; then
    log "npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    cp package-lock.json node_modules/.installed-package-lock.json
  fi
fi
log "done"
