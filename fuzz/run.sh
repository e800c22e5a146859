#!/usr/bin/env bash
# One single-job libFuzzer run of a target, on the stable toolchain (RUSTC_BOOTSTRAP lets it
# accept cargo-fuzz's nightly flags), with AddressSanitizer.
#
#   fuzz/run.sh TARGET [SECONDS=600] [extra libFuzzer flags...]
#
# New corpus entries go to fuzz/work/TARGET (ignored by git); the committed seeds in
# fuzz/corpus/TARGET are read only. The log is fuzz/logs/TARGET.log (ignored), crashes land
# in fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
target=${1:?usage: run.sh TARGET [SECONDS] [libFuzzer flags...]}
shift
seconds=600
if [[ ${1:-} =~ ^[0-9]+$ ]]; then
    seconds=$1
    shift
fi
dict=()
case $target in
    envelope | discovery) dict=(-dict=json.dict) ;;
esac
mkdir -p "work/$target" logs
status=0
RUSTC_BOOTSTRAP=1 nice -n 10 cargo fuzz run "$target" "work/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -timeout=10 -max_len=16384 -print_final_stats=1 \
    "${dict[@]}" "$@" >"logs/$target.log" 2>&1 || status=$?
echo "exit $status" >>"logs/$target.log"
grep -E '^Done|stat::number_of_executed_units|stat::average_exec_per_sec' "logs/$target.log" || true
exit "$status"
