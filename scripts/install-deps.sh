#!/usr/bin/env bash
# Installs everything lossdoctor needs to build, test and run, from Debian 12 packages only.
# Idempotent: packages already present are skipped, so a second run costs a few seconds.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libtorch-dev            # the training engine (PyTorch C++ frontend)
  libgloo-dev             # gloo's headers, which c10d's ProcessGroupGloo.hpp includes: train --nproc (docs/distributed.md)
  libopenblas0-pthread    # ~1.9x faster training than the reference libblas3 (docs/BENCHMARKS.md); becomes libblas.so.3 via update-alternatives (priority 100 > 10)
  libyaml-cpp-dev         # experiment specs, with line/column marks for error messages
  libcli11-dev            # command-line parsing with --help on every subcommand
  nlohmann-json3-dev      # JSON reports and JSONL metrics
  libfmt-dev              # formatting of messages and tables
  zlib1g-dev              # gzip-compressed IDX files
  libopencv-imgcodecs-dev libopencv-imgproc-dev  # JPEG/PNG decoding and resizing for image folders
  libgtest-dev            # unit tests
  libbenchmark-dev        # micro-benchmarks under bench/
  dataset-fashion-mnist   # the default data set, no download needed
  python3                 # generates the held-out zoo's data sets at test time (standard library only)
  python3-torch python3-dev pybind11-dev  # the Python module (python/): PyTorch loops watched by lossdoctor.Monitor
  chromium                # renders the --html reports in the test suite (headless), as a user's browser would
  clang libclang-rt-14-dev  # libFuzzer harnesses under fuzz/ (scripts/sanitize.sh)
  protobuf-compiler python3-protobuf  # tests/python/test_tensorboard.py: parses --tensorboard event files with protoc-generated code
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
