#!/usr/bin/env bash
# The fidelity check (issue 16): twilight-gateway 0.18 in its three compression builds, then
# @discordjs/ws 2.0.4 when node is present, each against syncord's simulator; prints the
# scenario x client x mode table (markdown) at the end. Exits non-zero if any scenario failed.
# Usage: fidelity/run.sh   (from anywhere). Results: fidelity/target/results/*.tsv.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
# Its own target dir, kept between runs (the main build's is never shared).
export CARGO_TARGET_DIR="$PWD/target"
results="$CARGO_TARGET_DIR/results"
mkdir -p "$results"
rm -f "$results"/*.tsv
status=0

# twilight-gateway chooses its compression at compile time: one build per mode.
for features in "" zlib zstd; do
    mode=${features:-none}
    echo "== twilight-gateway, compression $mode" >&2
    cargo build --quiet --bins ${features:+--features "$features"}
    "$CARGO_TARGET_DIR/debug/twilight-fidelity" >"$results/twilight-$mode.tsv" || status=1
    if [[ $mode == none ]]; then
        cp "$CARGO_TARGET_DIR/debug/sim-server" "$results/sim-server"
    fi
done

node_major=$(node --version 2>/dev/null | sed -n 's/^v\([0-9]*\)\..*/\1/p')
if [[ ${node_major:-0} -ge 20 ]] && command -v npm >/dev/null; then
    echo "== @discordjs/ws ($(node --version))" >&2
    if [[ -d discordjs/node_modules/@discordjs/ws ]] ||
        (cd discordjs && npm ci --no-audit --no-fund --loglevel=error >&2); then
        node discordjs/fidelity.mjs "$results/sim-server" none zlib zstd \
            >"$results/discordjs.tsv" || status=1
    else
        echo "npm ci failed: the @discordjs/ws half did not run" >&2
    fi
else
    echo "node >= 20 with npm not found: the @discordjs/ws half is skipped (see fidelity/README.md)" >&2
fi

python3 table.py "$results"/twilight-{none,zlib,zstd}.tsv $(ls "$results"/discordjs.tsv 2>/dev/null)
exit $status
