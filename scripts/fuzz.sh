#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang, ASan+UBSan) and runs each for SECONDS (default 60)
# from its committed seed corpus, then the CLI itself (same build) under argv mutation for
# SECONDS (scripts/fuzz_cli.py). Fails on the first crash, leak, timeout or sanitizer report;
# the reproducer is left in BUILD_DIR/fuzz-artifacts/<harness>/ (once fixed, add it to
# fuzz/corpus/<harness>/ as a regression seed; for the CLI, a test of the argv it names).
# Usage: scripts/fuzz.sh [SECONDS] [BUILD_DIR] [CLI_BINARY]
#   CLI_BINARY: an ASan+UBSan build of wslat for the argv mutation (CI passes its ASan stage's,
#   build-asan/wslat), so that the CLI is not compiled again here; by default BUILD_DIR's.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
dir=${2:-build-fuzz}
cli=${3:-}
harnesses=(scenario units threshold result regex request response frames)
targets=("${harnesses[@]/#/fuzz_}")
if [[ -z $cli ]]; then
  cli=$dir/wslat
  targets+=(wslat)
elif [[ ! -x $cli ]]; then
  echo "fuzz.sh: $cli is not an executable (build it first, or leave CLI_BINARY out)" >&2
  exit 64
fi

# -O1 and line tables only, as OSS-Fuzz builds: reports keep file:line, the build is far lighter.
CC=clang CXX=clang++ cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only -DNDEBUG" \
  -DWSLAT_FUZZ=ON -DWSLAT_TESTS=OFF -DWSLAT_WERROR=OFF >/dev/null
cmake --build "$dir" -j "$(nproc)" --target "${targets[@]}"

for h in "${harnesses[@]}"; do
  work="$dir/fuzz-corpus/$h"          # new inputs go here, not into the committed seeds
  artifacts="$dir/fuzz-artifacts/$h/"
  log="$dir/fuzz-$h.log"
  mkdir -p "$work" "$artifacts"
  echo "== fuzz_$h for ${seconds}s"
  # -timeout: one input taking over 10 s is a hang; -rss_limit_mb guards runaway allocation.
  rc=0
  "$dir/fuzz/fuzz_$h" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
    -print_final_stats=1 -artifact_prefix="$artifacts" "$work" "fuzz/corpus/$h" >"$log" 2>&1 ||
    rc=$?
  grep -E '^(#[0-9]+ *DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || true
  if [ "$rc" -ne 0 ]; then
    tail -n 60 "$log" >&2
    echo "fuzz_$h FAILED (rc $rc): reproducer in $artifacts, log in $log" >&2
    exit 1
  fi
done
echo "== wslat CLI (argv mutation) for ${seconds}s"
/usr/bin/python3 scripts/fuzz_cli.py --binary "$cli" --seconds "$seconds" \
  --artifacts "$dir/fuzz-artifacts/cli"
echo "fuzz: all ${#harnesses[@]} harnesses and the CLI ran ${seconds}s each without a finding"
