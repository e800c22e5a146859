#!/usr/bin/env bash
# Every figure of BENCHMARKS.md in one go: the four benchmark programs (release builds,
# defaults: 200k events, 3 runs, all three compression modes; 10 s per latency rate;
# 200 resume cycles; 1, 100 and 1,000 idle shards), then syncord against the peer
# clients on the bench-peers replay server (benches/peers.sh).
#
#   benches/run-all.sh            # about 10 minutes once the peers are built
#
# Output: the tables and every `name=value` line, also kept in target/bench-report.txt.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
mkdir -p target
{
  echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(git rev-parse --short HEAD 2>/dev/null || true)"
  echo "# $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  cargo bench --bench throughput
  cargo bench --bench latency
  cargo bench --bench resume -- 200 none zlib zstd
  cargo bench --bench footprint
  # Many shards (issue 13); its Redis part needs redis-server on PATH.
  cargo bench --features redis --bench cluster
  benches/peers.sh
} 2>&1 | tee target/bench-report.txt
