#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, clang + ASan + UBSan, build folder build-fuzz) and
# runs each for a fixed time from its committed seed corpus; docs/FUZZING.md.
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 20 s, every target)
# Environment: FUZZ_JOBS (default 1) parallel fuzzing processes per target, BUILD_DIR, FUZZ_SEED
# (libFuzzer's -seed; unset: a new random seed per run, as a long search wants; CI fixes it so
# that a run's mutations, and so its verdict, do not change by chance).
# New inputs go to BUILD_DIR/corpus/<target>, crashes to BUILD_DIR/artifacts/. Exits non-zero
# when a target finds a crash, a leak, a sanitizer report, a timeout or an out-of-memory.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
shift || true
build=${BUILD_DIR:-build-fuzz}
jobs=${FUZZ_JOBS:-1}

if [ ! -f "$build/CMakeCache.txt" ]; then
  launcher=()
  if command -v ccache >/dev/null; then
    launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  fi
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DEMRRG_FUZZ=ON -DCMAKE_C_COMPILER=clang \
    -DCMAKE_CXX_COMPILER=clang++ -DEMRRG_BUILD_TESTS=OFF -DEMRRG_BUILD_BENCH=OFF "${launcher[@]}"
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for d in tests/fuzz/corpus/*/; do targets+=("$(basename "$d")"); done
fi
cmake --build "$build" -j"${JOBS:-$(nproc)}" --target "${targets[@]}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p "$build/artifacts"
status=0
summary=()
for t in "${targets[@]}"; do
  work="$build/corpus/$t"
  mkdir -p "$work"
  log="$build/fuzz-$t.log"
  rc=0
  rm -f "$build/$t"-job-*.log
  parallel=()
  if [ "$jobs" -gt 1 ]; then parallel=(-jobs="$jobs" -workers="$jobs"); fi
  if [ -n "${FUZZ_SEED:-}" ]; then parallel+=(-seed="$FUZZ_SEED"); fi
  # -timeout: one input taking 10 s is a hang; -rss_limit_mb: 2 GB is an allocation the input
  # asked for.
  "$build/bin/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    "${parallel[@]}" -artifact_prefix="$build/artifacts/$t-" \
    "$work" "tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  # With -jobs, libFuzzer writes each job's output to fuzz-<job>.log in the current folder.
  for j in fuzz-[0-9]*.log; do [ -e "$j" ] && mv "$j" "$build/$t-job-$j"; done
  runs=$( (cat "$log" "$build/$t"-job-*.log 2>/dev/null || true) | grep 'stat::number_of_executed_units' | awk '{s += $2} END {print s + 0}')
  rate=$( (cat "$log" "$build/$t"-job-*.log 2>/dev/null || true) | grep 'stat::average_exec_per_sec' | awk '{s += $2} END {print s + 0}')
  if [ "$rc" -ne 0 ]; then
    status=1
    summary+=("$(printf '%-26s FAILED (rc %d): see %s' "$t" "$rc" "$log")")
    tail -40 "$log" "$build/$t"-job-*.log 2>/dev/null || true
  else
    summary+=("$(printf '%-26s %12s runs %8s exec/s' "$t" "$runs" "$rate")")
  fi
done
printf '%s\n' "${summary[@]}"
exit "$status"
