#!/usr/bin/env bash
# A short run of every fuzz target (fuzz/), for `make test`.
#   scripts/fuzz-smoke.sh           build with cargo-fuzz on nightly, then
#                                   RUNS executions per target from its corpus
#   PARVIS_FUZZ_RUNS=N              executions per target (default 5000)
# Without the nightly toolchain it replays the committed corpora through the
# same checks on stable (tests/fuzz_corpus.rs) and says so. The corpus in the
# repository is never written to: new inputs go to a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(hello http_head proxy_header config metadata)
runs=${PARVIS_FUZZ_RUNS:-5000}

replay() {
  echo "fuzz-smoke: $1; replaying the corpora on stable instead (tests/fuzz_corpus.rs)"
  cargo test --test fuzz_corpus -- --nocapture
  exit 0
}

cargo +nightly --version >/dev/null 2>&1 || replay "no nightly toolchain (rustup toolchain install nightly)"
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz-smoke: installing cargo-fuzz"
  cargo install cargo-fuzz --locked >/dev/null 2>&1 || replay "cargo-fuzz could not be installed"
fi

started=$(date +%s)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# -s none: safe Rust needs no AddressSanitizer, and it halves the speed;
# -a: debug assertions, so integer overflow is a crash.
if ! cargo +nightly fuzz build -s none -a >"$scratch/build.log" 2>&1; then
  tail -20 "$scratch/build.log"
  echo "fuzz-smoke: the build failed (above); once more, in full"
  cargo +nightly fuzz build -s none -a
fi
echo "fuzz-smoke: targets built in $(( $(date +%s) - started ))s"
for t in "${targets[@]}"; do
  mkdir -p "$scratch/$t"
  case $t in hello|http_head) max_len=20000 ;; proxy_header) max_len=5000 ;; *) max_len=4096 ;; esac
  dict=()
  [ -f "fuzz/dicts/$t.dict" ] && dict=("-dict=fuzz/dicts/$t.dict")
  log="$scratch/$t.log"
  if ! cargo +nightly fuzz run -s none -a "$t" "$scratch/$t" "fuzz/corpus/$t" -- \
      -runs="$runs" -max_len="$max_len" -max_total_time=30 -rss_limit_mb=1024 \
      -artifact_prefix="$scratch/" "${dict[@]}" >"$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz-smoke: $t FAILED; the input is in fuzz/artifacts-smoke/" >&2
    mkdir -p fuzz/artifacts-smoke && cp "$scratch"/crash-* "$scratch"/leak-* "$scratch"/oom-* \
      "$scratch"/timeout-* fuzz/artifacts-smoke/ 2>/dev/null || true
    exit 1
  fi
  echo "fuzz-smoke: $t: $(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1)"
done
echo "fuzz-smoke: all ${#targets[@]} targets clean after $(( $(date +%s) - started ))s"
