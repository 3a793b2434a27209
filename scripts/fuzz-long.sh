#!/usr/bin/env bash
# The long fuzzing runs behind docs/fuzzing.md, one target at a time, niced.
#   scripts/fuzz-long.sh RUNS [TARGET…]     default: every target
# New inputs go to fuzz/work/<target>/ (not committed; fold them into the
# committed corpus with scripts/fuzz-cmin.sh), logs to fuzz/logs/<target>.log,
# crashes to fuzz/artifacts/<target>/. Stops at the first target that fails.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:?usage: scripts/fuzz-long.sh RUNS [TARGET…]}
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(hello http_head proxy_header config metadata)
nice -n 10 cargo +nightly fuzz build -s none -a
mkdir -p fuzz/logs
for t in "${targets[@]}"; do
  mkdir -p "fuzz/work/$t" "fuzz/artifacts/$t"
  # Past the readers' limits (16 KiB, 4 KiB); the parsers of documents stay
  # at libFuzzer's default so that each execution stays cheap.
  case $t in hello|http_head) max_len=20000 ;; proxy_header) max_len=5000 ;; *) max_len=4096 ;; esac
  dict=()
  [ -f "fuzz/dicts/$t.dict" ] && dict=("-dict=fuzz/dicts/$t.dict")
  echo "fuzz-long: $t: $runs runs from $(date -u +%H:%M:%S)"
  nice -n 10 fuzz/target/x86_64-unknown-linux-gnu/release/"$t" \
    "fuzz/work/$t" "fuzz/corpus/$t" -runs="$runs" -max_len="$max_len" -rss_limit_mb=1024 \
    -timeout=10 -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$t/" "${dict[@]}" \
    >"fuzz/logs/$t.log" 2>&1 || { echo "fuzz-long: $t FAILED (fuzz/logs/$t.log)"; exit 1; }
  echo "fuzz-long: $t: $(grep -E '^Done|stat::number_of_executed_units|stat::average_exec_per_sec' "fuzz/logs/$t.log" | tr '\n' ' ')"
done
