#!/usr/bin/env bash
# The dispatcher against the raw path and twilight-gateway (issue 12), bench-peers replay.
#
#   benches/dispatcher.sh [EVENTS=200000] [RUNS=5]
#
# Builds examples/bench_replay in release, copies it out of target/, and runs
# shared/bench-peers/run.sh once per BENCH_MODE (raw, typed, rare) with a wrapper script
# as SYNCORD_RUNNER and twilight as the other peer, in none, zlib and zstd mode. Each
# invocation's table is printed, then per mode: typed ÷ twilight, typed ÷ raw and
# rare ÷ raw (medians). Pass extra run.sh options in $PEERS_OPTS (e.g. --no-build).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS_DIR=${BENCH_PEERS:-$ROOT/../shared/bench-peers}
EVENTS=${1:-200000}
RUNS=${2:-5}
WORK=${BENCH_WORK:-$HOME/.cache/bench-peers}

cargo build --release --example bench_replay --manifest-path "$ROOT/Cargo.toml" >&2
RUNNER_DIR=${TMPDIR:-/tmp}/syncord-bench-dispatcher
mkdir -p "$RUNNER_DIR"
cp "${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/bench_replay" "$RUNNER_DIR/bench_replay"

declare -A MEDIANS
median() { sort -n | awk '{v[NR]=$1} END {if (NR) print (NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2)}'; }
cd "$PEERS_DIR"
for mode in raw typed rare; do
  printf '#!/bin/sh\nBENCH_MODE=%s exec "%s"\n' "$mode" "$RUNNER_DIR/bench_replay" >"$RUNNER_DIR/$mode.sh"
  chmod +x "$RUNNER_DIR/$mode.sh"
  echo "== BENCH_MODE=$mode"
  # shellcheck disable=SC2086 # PEERS_OPTS is a list of options
  SYNCORD_RUNNER="$RUNNER_DIR/$mode.sh" ./run.sh -n "$EVENTS" -k "$RUNS" -p "syncord twilight" \
    -c "none zlib zstd" ${PEERS_OPTS:-}
  for c in none zlib zstd; do
    for peer in syncord twilight; do
      MEDIANS[$mode/$peer/$c]=$(awk -v p="$peer" -v c="$c:" \
        '$1==p && $2==c {for(i=3;i<=NF;i++) if($i ~ /^res=[0-9]+$/) print substr($i,5)}' \
        "$WORK/logs/results.log" | median)
    done
  done
done
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a > 0 && b > 0) printf "%.2f", a / b; else printf "n/a"}'; }
for c in none zlib zstd; do
  raw=${MEDIANS[raw/syncord/$c]:-0} typed=${MEDIANS[typed/syncord/$c]:-0} rare=${MEDIANS[rare/syncord/$c]:-0}
  # twilight ran in each invocation: the typed invocation's figure is the same-run one.
  twilight=${MEDIANS[typed/twilight/$c]:-0}
  echo "$c: raw=$raw typed=$typed rare=$rare twilight=$twilight" \
    "typed/twilight=$(ratio "$typed" "$twilight") typed/raw=$(ratio "$typed" "$raw") rare/raw=$(ratio "$rare" "$raw")"
done
