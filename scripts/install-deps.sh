#!/usr/bin/env bash
# Installs the Debian packages the build needs. Idempotent: does nothing when all are present.
set -euo pipefail
packages=(
  cmake g++ make pkg-config git
  libopenblas-dev        # BLAS for CPU matmul (sgemm/dgemm)
  libomp-dev             # OpenMP for the CPU thread pool (g++ uses libgomp; clang builds use this)
  libgtest-dev libbenchmark-dev
  clang libclang-rt-dev  # libFuzzer targets and the ThreadSanitizer build (docs/FUZZING.md)
  libcli11-dev           # command-line parsing for the emrrg program
  nlohmann-json3-dev     # safetensors headers, annotation.json
  libzip-dev             # the zip container of torch.save checkpoints (zip64, CRC and consistency checks)
  libtomlplusplus-dev    # TOML configs
  libsentencepiece-dev   # Llama tokenizer
  libstemmer-dev         # Snowball stemmer for METEOR
  libstb-dev             # PNG/JPEG decoding
  libpcre2-dev           # Unicode regex of the byte-level BPE pre-tokenizer (Qwen's tokenizer.json)
  libicu-dev             # NFC normalisation for the byte-level BPE tokenizer
  openmpi-bin libopenmpi-dev  # data-parallel training: mpirun launches the ranks, MPI reduces CPU gradients and bootstraps NCCL
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
