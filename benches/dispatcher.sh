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
#
# INTERLEAVED=1 benches/dispatcher.sh [EVENTS] [RUNS] instead starts the replay server
# ($BENCH_WORK/bin, built by run.sh) once per compression mode and runs raw, typed, rare and
# twilight in turn, RUNS rounds: on a shared machine whose load changes, each round's four
# figures saw the same load. Prints every figure and the medians, with syncord's CPU time
# per event (all its threads, READY to the marker). With BEFORE=<an older bench_replay
# binary> each round also runs that binary's typed and rare modes (typed_before,
# rare_before), for a before/after within one run.
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
declare -A MED

median() { sort -n | awk '{v[NR]=$1} END {if (NR) print (NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2)}'; }

if [ "${INTERLEAVED:-0}" = 1 ]; then
  PORT=${PORT:-19890}
  for c in none zlib zstd; do
    "$WORK/bin/replay-server" --port "$PORT" --http-port $((PORT + 1)) --events "$EVENTS" \
      --mix messages --compress "$c" >"$RUNNER_DIR/server.out" 2>"$RUNNER_DIR/server.err" &
    server=$!
    for _ in $(seq 600); do grep -q LISTENING "$RUNNER_DIR/server.out" 2>/dev/null && break; sleep 0.2; done
    declare -A got=() cpus=()
    WHO="raw typed rare twilight${BEFORE:+ typed_before rare_before}"
    for run in $(seq "$RUNS"); do
      for who in $WHO; do
        case $who in
          twilight) case $c in none) cmd=("$WORK/bin/twilight-plain") ;; *) cmd=("$WORK/bin/twilight-$c") ;; esac ;;
          *_before) cmd=(env BENCH_MODE="${who%_before}" "$BEFORE") ;;
          *) cmd=(env BENCH_MODE="$who" "$RUNNER_DIR/bench_replay") ;;
        esac
        rate=$(BENCH_WS_URL="ws://127.0.0.1:$PORT" BENCH_HTTP_URL="http://127.0.0.1:$((PORT + 1))" \
          BENCH_COMPRESS=$c BENCH_EVENTS=$EVENTS timeout 300 "${cmd[@]}" 2>"$RUNNER_DIR/run.err" |
          sed -n 's/.*events=\([0-9]*\) seconds=.* events_per_s=\([0-9]*\).*/\1 \2/p' | tail -1)
        if [ "${rate%% *}" = "$EVENTS" ]; then got[$who]+="${rate##* } "; fi
        cpu=$(sed -n 's/.*cpu_ns_per_event=\([0-9]*\).*/\1/p' "$RUNNER_DIR/run.err" | tail -1)
        [ -n "$cpu" ] && cpus[$who]+="$cpu "
        echo "$c run $run $who ${rate##* } ${cpu:+cpu_ns_per_event=$cpu}"
      done
    done
    kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true
    line="$c:"
    for who in $WHO; do
      MED[$who]=$(tr ' ' '\n' <<<"${got[$who]:-}" | grep . | median)
      line+=" $who=${MED[$who]}"
      [ -n "${cpus[$who]:-}" ] && line+="(cpu $(tr ' ' '\n' <<<"${cpus[$who]}" | grep . | median) ns/event)"
    done
    ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a > 0 && b > 0) printf "%.2f", a / b; else printf "n/a"}'; }
    echo "$line typed/twilight=$(ratio "${MED[typed]}" "${MED[twilight]}") typed/raw=$(ratio "${MED[typed]}" "${MED[raw]}") rare/raw=$(ratio "${MED[rare]}" "${MED[raw]}")${BEFORE:+ typed/typed_before=$(ratio "${MED[typed]}" "${MED[typed_before]}") rare/rare_before=$(ratio "${MED[rare]}" "${MED[rare_before]}")}"
  done
  exit 0
fi

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
