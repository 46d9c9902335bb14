#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds with warnings as errors, runs every
# CPU test and every CUDA kernel under the SIMT simulator, compiles the real CUDA backend for
# sm_80 and sm_90 when nvcc is present, then rebuilds with AddressSanitizer + UBSan and runs
# the CPU tests again (the simulator's fibers switch stacks, which ASan does not follow), runs
# the data loader and the threaded CPU kernels under ThreadSanitizer, and every fuzz target
# for 15 s (docs/FUZZING.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=${JOBS:-$(nproc)}
# ccache, when installed, makes a rerun on the same machine rebuild only what changed.
if command -v ccache >/dev/null; then
  export CMAKE_C_COMPILER_LAUNCHER=ccache CMAKE_CXX_COMPILER_LAUNCHER=ccache CMAKE_CUDA_COMPILER_LAUNCHER=ccache
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DEMRRG_WERROR=ON
cmake --build build -j"$jobs"
# The mpi label runs jobs of 2 ranks under mpirun; mpirun refuses root unless told.
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 ctest --test-dir build -L 'cpu|sim|mpi' --output-on-failure -j"$jobs"

if command -v nvcc >/dev/null; then
  cmake -S . -B build-nvcc -DCMAKE_BUILD_TYPE=Release -DEMRRG_WERROR=ON -DEMRRG_CUDA=ON \
    -DEMRRG_CUDA_ARCHS="80;90" -DEMRRG_SIM=OFF
  cmake --build build-nvcc --target emrrg_cuda gpu_tests nccl_tests bench_cuda roofline bench_emrrg_paper_scale emrrg -j"$jobs"
fi

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DEMRRG_SANITIZE=ON -DEMRRG_WERROR=ON \
  -DEMRRG_BUILD_BENCH=OFF -DEMRRG_SIM=OFF
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan -L cpu --output-on-failure -j"$jobs"

# ThreadSanitizer: clang, so that OpenMP is LLVM's libomp, whose barriers TSan learns through
# the Archer OMPT tool (libgomp is not instrumented and every parallel region would be a false
# report). More OpenMP threads than cores, so that the threaded paths run threaded; OpenBLAS's
# own pool is not instrumented and is kept to one thread.
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DEMRRG_TSAN=ON -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DEMRRG_BUILD_BENCH=OFF -DEMRRG_SIM=OFF
cmake --build build-tsan --target test_data ops_tests -j"$jobs"
tsan_env=(OMP_TOOL_LIBRARIES="$(clang -print-resource-dir)/../../libarcher.so" OMP_NUM_THREADS=4
          OPENBLAS_NUM_THREADS=1 TSAN_OPTIONS="ignore_noninstrumented_modules=1:halt_on_error=1:second_deadlock_stack=1")
env "${tsan_env[@]}" build-tsan/bin/test_data --gtest_filter="${TSAN_DATA_TESTS:-Loader*:BadImages*:Phantom*}"
env "${tsan_env[@]}" build-tsan/bin/ops_tests --gtest_filter="${TSAN_OPS_TESTS:-*}"

# A fixed seed: the same mutations every run (a fresh fuzz corpus per clone), so that CI's verdict
# changes with the code, not by chance; the long searches (docs/FUZZING.md) draw new seeds.
FUZZ_SEED=1 bash scripts/fuzz.sh 15
