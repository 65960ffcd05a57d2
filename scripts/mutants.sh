#!/usr/bin/env bash
# Mutation testing of the pure core with cargo-mutants (native unit tests only: `--lib`).
# Scope and excluded mutants live in .cargo/mutants.toml (the adapters and WebCrypto glue are
# out: they only perform I/O and run on wasm32).
#
# Usage:
#   scripts/mutants.sh                    full run: the edge core (src/*.rs) and the store's
#                                         pure core (session-store/src), every mutant
#   scripts/mutants.sh --quick [BASE]     only mutants on lines changed since BASE
#                                         (default: origin/main if it exists, else HEAD~1)
#   scripts/mutants.sh ... --shard k/n    run shard k of n (passed to cargo-mutants)
# Results: mutants.out/ (outcomes.json, missed.txt, caught.txt, ...).
set -euo pipefail
cd "$(dirname "$0")/.."

version=27
if ! cargo mutants --version 2>/dev/null | grep -q "^cargo-mutants ${version}\."; then
  cargo install cargo-mutants@"^${version}" --locked
fi

quick=0 base="" args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick)
      quick=1
      if [ $# -gt 1 ] && [ "${2#--}" = "$2" ]; then base=$2; shift; fi ;;
    --shard) args+=(--shard "$2"); shift ;;
    --shard=*) args+=("$1") ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

# Two cores are shared: two builds at a time at most. `--lib` goes to every cargo call (the
# build as well as the test run): as a trailing `-- --lib` it reaches only `cargo test`, and
# each mutant's build would also compile every integration test (10-20 s instead of ~1 s).
common=(--workspace -j 2 --cargo-arg=--lib "${args[@]}")

if [ "$quick" = 1 ]; then
  if [ -z "$base" ]; then
    if git rev-parse -q --verify origin/main >/dev/null; then base=origin/main; else base=HEAD~1; fi
  fi
  diff=$(mktemp)
  trap 'rm -f "$diff"' EXIT
  git diff "$base" -- '*.rs' >"$diff"
  if [ ! -s "$diff" ]; then echo "no Rust change since $base"; exit 0; fi
  echo "==> mutants on lines changed since $base"
  cargo mutants "${common[@]}" --in-diff "$diff"
else
  echo "==> mutants over the whole core"
  cargo mutants "${common[@]}"
fi
