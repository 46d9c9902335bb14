# shellcheck shell=bash
# Sourced by tests/gpu/run.sh and scripts/gather-gpu-deps.sh (or by hand: `source
# scripts/gpu-deps-env.sh`). When third_party/debs holds the packages gather-gpu-deps.sh
# downloaded, unpacks them (dpkg -x, no root, nothing installed) into third_party/prefix unless
# that exists, and points CMake, pkg-config, the compiler, the linker and the loader at it.
# EMRRG_DEPS_DIR moves third_party elsewhere.
emrrg_deps_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/${EMRRG_DEPS_DIR:-third_party}
if [[ ! -d $emrrg_deps_root/prefix/usr ]] && compgen -G "$emrrg_deps_root/debs/*.deb" >/dev/null; then
  mkdir -p "$emrrg_deps_root/prefix"
  for deb in "$emrrg_deps_root"/debs/*.deb; do dpkg -x "$deb" "$emrrg_deps_root/prefix"; done
  # Debian's .pc files name /usr outright; make them relative to their own folder (pkg-config's
  # ${pcfiledir}) so the prefix works wherever the repository lives.
  while IFS= read -r -d '' pc; do
    up=$(realpath --relative-to="$(dirname "$pc")" "$emrrg_deps_root/prefix/usr")
    sed -i -E "s#^([A-Za-z_]+)=/usr#\1=\${pcfiledir}/${up}#" "$pc"
  done < <(find "$emrrg_deps_root/prefix" -name '*.pc' -print0)
fi
if [[ -d $emrrg_deps_root/prefix/usr ]]; then
  emrrg_usr=$emrrg_deps_root/prefix/usr
  emrrg_arch_lib=$emrrg_usr/lib/$(uname -m)-linux-gnu
  export CMAKE_PREFIX_PATH=$emrrg_usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}
  # openblas.pc lives in the pthread build's folder (Debian links it into pkgconfig/ through
  # update-alternatives, which dpkg -x does not run).
  export PKG_CONFIG_PATH=$emrrg_arch_lib/pkgconfig:$emrrg_arch_lib/openblas-pthread/pkgconfig:$emrrg_usr/share/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
  # Headers and libraries found by name rather than through pkg-config or CMake (libstemmer).
  export CPATH=$emrrg_usr/include${CPATH:+:$CPATH}
  export LIBRARY_PATH=$emrrg_arch_lib${LIBRARY_PATH:+:$LIBRARY_PATH}
  export LD_LIBRARY_PATH=$emrrg_arch_lib:$emrrg_arch_lib/openblas-pthread${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  echo "gpu-deps: using the packages unpacked in $emrrg_deps_root/prefix"
fi
