#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: builds the CUDA backend for the local GPU, runs the `gpu`
# tests (the simulator's kernel and backend tests, on the real device) and the CUDA
# benchmarks, and prints a short table. Meant to finish in under 8 minutes on one H200.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-build-gpu/results}
mkdir -p "$out"
bash scripts/install-deps.sh >/dev/null
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"

start=$(date +%s)
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DEMRRG_CUDA=ON -DEMRRG_CUDA_ARCHS=native -DEMRRG_SIM=OFF \
  >"$out/configure.log" 2>&1 || { tail -30 "$out/configure.log"; exit 1; }
cmake --build build-gpu --target gpu_tests nccl_tests bench_cuda -j"$(nproc)" >"$out/build.log" 2>&1 ||
  { grep -E "error" "$out/build.log" | head -40; exit 1; }
echo "build: $(( $(date +%s) - start )) s"

ctest --test-dir build-gpu -L gpu --output-on-failure --timeout 120 >"$out/tests.log" 2>&1
tests_rc=$?
grep -E "tests passed|tests failed|\*\*\*Failed|Exception" "$out/tests.log" | head -40

build-gpu/bin/bench_cuda --benchmark_min_time=0.2 >"$out/bench.txt" 2>&1
bench_rc=$?

echo
# Google Benchmark's own table: time per call, GB/s or TFLOP/s, and peak_GB/s (measured copy).
grep -E "^(Benchmark|BM_)" "$out/bench.txt"
echo "total: $(( $(date +%s) - start )) s (tests rc $tests_rc, bench rc $bench_rc)"
exit $(( tests_rc || bench_rc ))
