#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds with warnings as errors, runs every
# CPU test and every CUDA kernel under the SIMT simulator, compiles the real CUDA backend for
# sm_80 and sm_90 when nvcc is present, then rebuilds with AddressSanitizer + UBSan and runs
# the CPU tests again (the simulator's fibers switch stacks, which ASan does not follow).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=${JOBS:-$(nproc)}

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DEMRRG_WERROR=ON
cmake --build build -j"$jobs"
# The mpi label runs jobs of 2 ranks under mpirun; mpirun refuses root unless told.
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 ctest --test-dir build -L 'cpu|sim|mpi' --output-on-failure -j"$jobs"

if command -v nvcc >/dev/null; then
  cmake -S . -B build-nvcc -DCMAKE_BUILD_TYPE=Release -DEMRRG_WERROR=ON -DEMRRG_CUDA=ON \
    -DEMRRG_CUDA_ARCHS="80;90" -DEMRRG_SIM=OFF
  cmake --build build-nvcc --target emrrg_cuda gpu_tests nccl_tests bench_cuda roofline emrrg -j"$jobs"
fi

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DEMRRG_SANITIZE=ON -DEMRRG_WERROR=ON \
  -DEMRRG_BUILD_BENCH=OFF -DEMRRG_SIM=OFF
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan -L cpu --output-on-failure -j"$jobs"
