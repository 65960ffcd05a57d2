#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECS CPU-seconds each (default 300), one after another, on
# nightly (local only; CI and scripts/test.sh run the stable smoke harness tests/fuzz_smoke.rs,
# which replays every file of fuzz/corpus/<target>/). Each run is at the lowest CPU priority
# (nice 19, and its own autogroup at 19, so other sessions' work goes first) and prints its
# executions, coverage and CPU time. Seeds come from the smoke harness (FUZZ_WRITE_SEEDS=1);
# corpora stay in fuzz/corpus/ (minimise them with `cargo +nightly fuzz cmin -O <target>`).
# Usage: scripts/fuzz.sh [SECS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-300}; shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(token_inspect token_verify cookie_header forward_headers set_cookie_roundtrip session_cookie request_target)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz@0.13.2 --locked
FUZZ_WRITE_SEEDS=1 FUZZ_SMOKE_SECS=0 cargo test -q -p edge-session --test fuzz_smoke >/dev/null
cargo +nightly fuzz build -O
bin=fuzz/target/x86_64-unknown-linux-gnu/release
for t in "${targets[@]}"; do
  echo "==> $t (${secs} CPU-seconds)"
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  # SECS counts CPU time, not wall time: at the lowest priority a busy machine would otherwise
  # give a target a fraction of what was asked. Each chunk runs for the CPU time still owed (as
  # wall time, so never more than owed), resuming from the corpus, until the total is reached.
  cpu_ms=0; execs=0; chunks=0
  while [ "$cpu_ms" -lt $((secs * 1000)) ]; do
    owed=$(( (secs * 1000 - cpu_ms + 999) / 1000 )); [ "$owed" -ge 5 ] || owed=5
    log=$(mktemp); tf=$(mktemp)
    # A session of its own (setsid), so its autogroup can be lowered without touching ours.
    setsid nice -n 19 /usr/bin/time -o "$tf" -f "%U %S %e" \
      "$bin/$t" "fuzz/corpus/$t" -artifact_prefix="fuzz/artifacts/$t/" -max_total_time="$owed" \
      -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 >"$log" 2>&1 &
    pid=$!
    # Once it leads its own session (setsid has run), lower that session's autogroup.
    for _ in $(seq 50); do [ "$(ps -o sid= -p "$pid" | tr -d ' ')" = "$pid" ] && break; sleep 0.1; done
    echo 19 >"/proc/$pid/autogroup" 2>/dev/null || true
    status=0; wait "$pid" || status=$?
    read -r u s w <"$tf" || true
    cpu_ms=$(( cpu_ms + $(awk -v u="${u:-0}" -v s="${s:-0}" 'BEGIN { printf "%d", (u + s) * 1000 }') ))
    n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    execs=$(( execs + ${n:-0} )); chunks=$(( chunks + 1 ))
    last=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -n 1 || true)
    if [ "$status" -ne 0 ]; then
      grep -E 'panicked|^SUMMARY|Test unit written' "$log" || true
      rm -f "$log" "$tf"
      echo "$t: exit $status (a crash: see fuzz/artifacts/$t/)"; exit "$status"
    fi
    rm -f "$log" "$tf"
  done
  echo "$last"
  echo "$t: $execs executions in $chunks run(s), cpu: $((cpu_ms / 1000)) s"
done
