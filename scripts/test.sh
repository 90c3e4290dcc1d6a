#!/usr/bin/env bash
# The README's test command: install what is missing, build, run the test suite (all but the
# zoo_regression guards, ~10 min of past sessions' zoo fixes, which .ci/run adds when its
# deadline allows; by hand: ctest --test-dir build -L zoo_regression -j2).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
ctest --test-dir "${LOSSDOCTOR_BUILD_DIR:-build}" -j "$(nproc)" --output-on-failure --timeout 900 \
  -LE zoo_regression
