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
#   scripts/mutants.sh ... --jobs N       N builds at a time (default 2; 1 when others share the
#                                         cores)
#   scripts/mutants.sh ... --list         list the mutants instead of testing them
# A file moved or renamed since BASE is handled as git reports it: its changed lines are
# mutated under the new path; a pure move (100% similar) changes no line and adds no mutant.
# Untracked .rs files (code moved into a file not yet added) count as new in full.
# Results: mutants.out/ (outcomes.json, missed.txt, caught.txt, ...).
set -euo pipefail
cd "$(dirname "$0")/.."

version=27
if ! cargo mutants --version 2>/dev/null | grep -q "^cargo-mutants ${version}\."; then
  cargo install cargo-mutants@"^${version}" --locked
fi

quick=0 base="" jobs=2 args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick)
      quick=1
      if [ $# -gt 1 ] && [ "${2#--}" = "$2" ]; then base=$2; shift; fi ;;
    --shard) args+=(--shard "$2"); shift ;;
    --shard=*) args+=("$1") ;;
    --jobs | -j) jobs=$2; shift ;;
    --list) args+=(--list) ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

# Two cores are shared: two builds at a time at most by default. `--lib` goes to every cargo call (the
# build as well as the test run): as a trailing `-- --lib` it reaches only `cargo test`, and
# each mutant's build would also compile every integration test (10-20 s instead of ~1 s).
common=(--workspace --cargo-arg=--lib "${args[@]}")
if [[ ! " ${args[*]} " =~ " --list " ]]; then common+=(-j "$jobs"); fi

if [ "$quick" = 1 ]; then
  if [ -z "$base" ]; then
    if git rev-parse -q --verify origin/main >/dev/null; then base=origin/main; else base=HEAD~1; fi
  fi
  diff=$(mktemp)
  trap 'rm -f "$diff"' EXIT
  git diff "$base" -- '*.rs' >"$diff"
  # Files not yet added to git (code just moved into a new file, say) are new in full.
  while IFS= read -r -d '' f; do
    git diff --no-index -- /dev/null "$f" >>"$diff" || true
  done < <(git ls-files -z --others --exclude-standard -- '*.rs')
  if [ ! -s "$diff" ]; then echo "no Rust change since $base"; exit 0; fi
  echo "==> mutants on lines changed since $base"
  cargo mutants "${common[@]}" --in-diff "$diff"
else
  echo "==> mutants over the whole core"
  cargo mutants "${common[@]}"
fi
