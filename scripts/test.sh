#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds with warnings as errors, runs every
# CPU test, then rebuilds with AddressSanitizer + UBSan and runs the suite again.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=${JOBS:-$(nproc)}

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DEMRRG_WERROR=ON
cmake --build build -j"$jobs"
ctest --test-dir build -L cpu --output-on-failure -j"$jobs"

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DEMRRG_SANITIZE=ON -DEMRRG_WERROR=ON \
  -DEMRRG_BUILD_BENCH=OFF
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan -L cpu --output-on-failure -j"$jobs"
