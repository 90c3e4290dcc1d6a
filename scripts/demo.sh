#!/usr/bin/env bash
# The README's main job: install what is missing, build, then let lossdoctor diagnose runs on
# Fashion-MNIST — the article's third example (Adam at lr 1.0, batches of one) and the healthy
# example — printing the findings and writing each report under runs/.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
mkdir -p runs

diagnose() {  # diagnose SPEC NAME: exit status 1 means "faults found", which is an answer here
  local status=0
  echo
  echo "=== lossdoctor diagnose $1"
  ./build/lossdoctor diagnose "$1" --json "runs/$2.report.json" --html "runs/$2.html" \
    --progress lines || status=$?
  if ((status > 1)); then exit "$status"; fi
}
diagnose examples/seed-3-adam-lr1-batch1.yaml seed-3
diagnose examples/fashion-mnist.yaml fashion-mnist
echo
echo "reports: runs/seed-3.report.json, runs/fashion-mnist.report.json"
echo "open in a browser: runs/seed-3.html, runs/fashion-mnist.html (self-contained, no network)"
echo "more: ./build/lossdoctor diagnose examples/seed-1-unshuffled-mismatched-val.yaml, seed-2-..., or train one:"
echo "      ./build/lossdoctor train examples/fashion-mnist.yaml --out runs/fm"
