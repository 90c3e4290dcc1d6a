#!/usr/bin/env bash
# Configures and builds lossdoctor into build/ (Release, Ninja, ccache when present).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${LOSSDOCTOR_BUILD_DIR:-build}
if [[ ! -f "$build_dir/build.ninja" ]]; then
  # The Python module is part of the README's setup: a missing one fails here (pass
  # -DLOSSDOCTOR_PYTHON_REQUIRED=OFF to build without it).
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLOSSDOCTOR_PYTHON_REQUIRED=ON "$@"
fi
cmake --build "$build_dir" -j "$(nproc)"
