#!/usr/bin/env bash
# On a machine with an NVIDIA GPU, connected or not: builds the CUDA backend for the local GPU
# (EMRRG_CUDA_ARCHS, default native; 90 for an H100/H200), runs the `gpu` tests (every kernel
# and backend test against the CPU, on the real device), the kernel roofline table next to
# PyTorch's anchors (when python3 imports torch), a profiled MLP demo on the GPU, a shortened
# `emrrg demo` (EMRRG trained and tested on the GPU), the CUDA benchmarks and EMRRG's memory and
# speed at the paper's scale (bench_emrrg_paper_scale, time-bounded), and prints a short final
# table. Full logs go to $OUT or build-gpu/results.
# Meant to finish in under 8 minutes on one H200.
# Offline: run scripts/gather-gpu-deps.sh on a connected machine and copy third_party/debs along
# (docs/KERNELS.md); scripts/gpu-deps-env.sh then unpacks and uses them.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
out=${OUT:-build-gpu/results}
mkdir -p "$out"
source scripts/gpu-deps-env.sh
if [[ -z ${CMAKE_PREFIX_PATH:-} ]] && command -v apt-get >/dev/null; then
  bash scripts/install-deps.sh >"$out/install-deps.log" 2>&1 || echo "install-deps failed (offline?): see $out/install-deps.log"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"

declare -a steps=()
start=$(date +%s)
step() {  # step NAME LOG COMMAND...: runs it, records rc and seconds
  local name=$1 log=$2 t0=$SECONDS
  shift 2
  "$@" >"$log" 2>&1
  local rc=$?
  steps+=("$(printf '%-22s %4s %6s s  %s' "$name" "$rc" "$((SECONDS - t0))" "$log")")
  return $rc
}

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
step configure "$out/configure.log" cmake -S . -B build-gpu "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DEMRRG_CUDA=ON -DEMRRG_CUDA_ARCHS="${EMRRG_CUDA_ARCHS:-native}" -DEMRRG_SIM=OFF ||
  { tail -30 "$out/configure.log"; exit 1; }
step build "$out/build.log" cmake --build build-gpu --target gpu_tests nccl_tests bench_cuda roofline emrrg bench_emrrg_paper_scale -j"$(nproc)" ||
  { grep -E "error" "$out/build.log" | head -40; exit 1; }

step "gpu tests" "$out/tests.log" ctest --test-dir build-gpu -L gpu --output-on-failure --timeout 120
tests_rc=$?
grep -E "tests passed|tests failed|\*\*\*Failed|Exception" "$out/tests.log" | head -40

anchors=()
if python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  # The JSON on stdout, warnings apart.
  step "torch anchors" "$out/torch_anchors.log" \
    bash -c 'python3 scripts/gpu/torch_anchors.py >"$1"' _ "$out/torch_anchors.json" &&
    anchors=(--anchors "$out/torch_anchors.json")
else
  steps+=("$(printf '%-22s %4s %6s s  %s' "torch anchors" "-" "0" "python3 has no torch with CUDA: skipped")")
fi
step roofline "$out/roofline.txt" build-gpu/bin/roofline "${anchors[@]}" --json "$out/roofline.json"
roofline_rc=$?

# The profiler on the real device: a trace of 3 training steps of the MLP demo and its summary table.
step "profiled demo-mlp" "$out/profile.txt" build-gpu/bin/emrrg demo-mlp --device cuda --steps 20 --hidden 1024 \
  --profile "$out/trace.json" --profile-warmup 5 --profile-steps 3
profile_rc=$?

# EMRRG trained on the device end to end, shortened: both stages, validation, the test table.
step "emrrg demo" "$out/emrrg_demo.txt" build-gpu/bin/emrrg demo --device cuda --studies 300 --data "$out/demo_data" \
  --out "$out/demo_run" --set pretrain.max_steps=60 --set train.max_steps=120 --set train.val_every=120
demo_rc=$?

step "bench_cuda" "$out/bench.txt" build-gpu/bin/bench_cuda --benchmark_min_time=0.2
bench_rc=$?

# EMRRG at the paper's scale (ARM-Base + Llama-2-7B + hybrid layers, bf16, random weights made on
# the device): 1 + 2 training steps at batch 18, then one generation batch (beam 3, 120 new tokens)
# extrapolated to the 11,562 test studies. Bounded to 3 minutes (rc 124: it ran out;
# what it printed by then is in the log).
step "paper scale" "$out/paper_scale.txt" timeout 180 build-gpu/bin/bench_emrrg_paper_scale --steps 2
paper_rc=$?

echo
cat "$out/roofline.txt"
echo
sed -n '/^profile:/,$p' "$out/profile.txt" | head -25
echo
sed -n '/^training/,$p' "$out/paper_scale.txt"
echo
printf '%-22s %4s %8s  %s\n' step rc time log
printf '%s\n' "${steps[@]}"
echo "total: $(($(date +%s) - start)) s; logs in $out"
exit $((tests_rc || roofline_rc || profile_rc || demo_rc || bench_rc || paper_rc))
