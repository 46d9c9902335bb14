#!/usr/bin/env bash
# For a GPU machine that reaches no package registry (an air-gapped hospital or cluster server,
# often another distribution with nvcc, CMake and PyTorch but none of this project's libraries).
# Run this on a connected Debian or Ubuntu machine of the same architecture whose C library is
# no newer than the GPU machine's (Debian 12's glibc 2.36 suits Ubuntu 24.04's 2.39):
#   scripts/gather-gpu-deps.sh            # -> third_party/debs/*.deb and third_party/prefix/
# It downloads (apt-get download: no root, nothing installed) the -dev packages the build needs
# and the libraries they depend on, leaving out the C library, the compiler's own runtime and
# anything of priority required or important (every system has those), then unpacks them with
# dpkg -x into a prefix (scripts/gpu-deps-env.sh). Copy the repository with third_party/debs
# (git-ignored) to the GPU machine; tests/gpu/run.sh sources scripts/gpu-deps-env.sh, which
# unpacks the packages there if need be and sets CMAKE_PREFIX_PATH, PKG_CONFIG_PATH, CPATH,
# LIBRARY_PATH and LD_LIBRARY_PATH to the prefix. EMRRG_DEPS_DIR moves third_party elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
root=${EMRRG_DEPS_DIR:-third_party}
debs=$root/debs
prefix=$root/prefix
packages=(
  libopenblas-dev libopenblas-pthread-dev libzip-dev nlohmann-json3-dev libcli11-dev libgtest-dev
  libbenchmark-dev libtomlplusplus-dev libsentencepiece-dev libstemmer-dev libstb-dev libpcre2-dev libicu-dev
)
# The C library and its headers, the compiler and its runtime, and the few libraries every
# distribution's base system has (a copy here would shadow the system's for every program run
# with LD_LIBRARY_PATH): the GPU machine's own must be used.
toolchain='^(zlib1g|libbz2-1\.0|libssl3|libc6|libc6-dev|libc-dev-bin|linux-libc-dev|libcrypt1|libcrypt-dev|libgcc-s1|libstdc\+\+6|libstdc\+\+-[0-9]+-dev|gcc-[0-9]+(-base)?|g\+\+-[0-9]+|cpp-[0-9]+|libgcc-[0-9]+-dev|libgomp1|libnsl2|libnsl-dev|libtirpc3|libtirpc-dev|libtirpc-common|rpcsvc-proto|debconf|dpkg|perl-base)$'
# OpenBLAS comes in several builds that provide one another; the pthread one is enough.
other_blas='^libopenblas(0)?-(openmp|serial)(-dev)?$'

# Direct dependencies of one package: the first real (non-virtual) choice of each alternative.
direct_deps() {
  apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances "$1" |
    awk '/^ *\|?(Pre)?Depends:/ {
           alt = ($0 ~ /^ *\|/); name = $2
           if (!skip && name !~ /^</) { print name; chosen = 1 } else chosen = 0
           skip = alt && (chosen || skip)
           if (!alt) skip = 0
         }'
}

skipped() {
  local p=$1
  [[ $p =~ $toolchain || $p =~ $other_blas ]] && return 0
  local priority
  priority=$(apt-cache show --no-all-versions "$p" 2>/dev/null | awk -F': ' '/^Priority:/ {print $2; exit}')
  [[ $priority == required || $priority == important ]]
}

declare -A seen=()
queue=("${packages[@]}")
wanted=()
while ((${#queue[@]})); do
  p=${queue[0]}
  queue=("${queue[@]:1}")
  [[ -n ${seen[$p]:-} ]] && continue
  seen[$p]=1
  if skipped "$p"; then continue; fi
  wanted+=("$p")
  while read -r d; do
    [[ -n $d && -z ${seen[$d]:-} ]] && queue+=("$d")
  done < <(direct_deps "$p")
done

mkdir -p "$debs"
echo "gather-gpu-deps: ${#wanted[@]} packages: ${wanted[*]}"
missing=()
for p in "${wanted[@]}"; do
  compgen -G "$debs/${p}_*.deb" >/dev/null || missing+=("$p")
done
if ((${#missing[@]})); then (cd "$debs" && apt-get download -q "${missing[@]}"); fi

rm -rf "$prefix"  # unpacked afresh from the folder's packages
source scripts/gpu-deps-env.sh
echo "gather-gpu-deps: $(du -sh "$debs" | cut -f1) of packages in $debs, unpacked into $prefix;" \
  "copy $root (or only $debs: tests/gpu/run.sh unpacks it) along with the repository"
