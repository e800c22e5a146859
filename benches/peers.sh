#!/usr/bin/env bash
# syncord against the peer clients, same replay server, same run (issue 6, item 7).
#
#   benches/peers.sh [EVENTS=200000] [RUNS=3] [PEERS="syncord twilight twilight-raw raw-tungstenite discordjs"]
#
# Builds examples/bench_replay in release, copies it out of target/ (so a concurrent build
# cannot swap it mid-run), runs shared/bench-peers/run.sh with it as SYNCORD_RUNNER in
# none, zlib and zstd mode, then prints syncord ÷ peer per mode. The peers are built by
# run.sh into $BENCH_WORK (default ~/.cache/bench-peers); pass extra run.sh options in
# $PEERS_OPTS (e.g. PEERS_OPTS=--no-build once they are built).
# BENCH_PEERS points at the bench-peers directory (default: ../shared/bench-peers).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS_DIR=${BENCH_PEERS:-$ROOT/../shared/bench-peers}
EVENTS=${1:-200000}
RUNS=${2:-3}
PEERS=${3:-syncord twilight twilight-raw raw-tungstenite discordjs}

cargo build --release --example bench_replay --manifest-path "$ROOT/Cargo.toml" >&2
RUNNER_DIR=${TMPDIR:-/tmp}/syncord-bench-runner
mkdir -p "$RUNNER_DIR"
cp "${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/bench_replay" "$RUNNER_DIR/bench_replay"

cd "$PEERS_DIR"
# shellcheck disable=SC2086 # PEERS_OPTS is a list of options
SYNCORD_RUNNER="$RUNNER_DIR/bench_replay" ./run.sh -n "$EVENTS" -k "$RUNS" -p "$PEERS" \
  -c "none zlib zstd" ${PEERS_OPTS:-}
echo
for peer in $PEERS; do
  [ "$peer" = syncord ] && continue
  ./run.sh --ratio syncord "$peer"
done
