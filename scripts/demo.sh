#!/usr/bin/env bash
# The README's main job: install what is missing, build, then run lossdoctor on Fashion-MNIST.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
./build/lossdoctor train examples/fashion-mnist.yaml --out runs/fm "$@"
