#!/usr/bin/env bash
# The README's test command: install what is missing, build, run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
ctest --test-dir "${LOSSDOCTOR_BUILD_DIR:-build}" -j "$(nproc)" --output-on-failure --timeout 900
