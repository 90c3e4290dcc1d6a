#!/usr/bin/env bash
# Sanitizer job: an ASan/UBSan build of the torch-free stages' tests (spec, util, report, lint,
# diagnose, logs: parsing, reports, every detector and rule) run with leak checks, then every libFuzzer
# harness under fuzz/ (clang, ASan + UBSan) on its seed corpus.
#   --quick (default, CI): each harness for 20 s.
#   --full  (nightly):     each harness for 10^6 executions; figures in docs/BENCHMARKS.md.
#   --full spec cifar ...: only those harnesses, one after the other, without the tests
#                          (LOSSDOCTOR_FUZZ_MAX_S=N: stop each after N s if 10^6 is not reached).
# LOSSDOCTOR_DEADLINE (seconds since the epoch, set by .ci/run): a quick run that would pass it
# skips the fuzz build, or shares the time left among the harnesses, and says which it did.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:---quick}
(($# > 0)) && shift
only=("$@")
./scripts/install-deps.sh

asan=${LOSSDOCTOR_ASAN_DIR:-build-asan}
if [[ ! -f "$asan/build.ninja" ]]; then
  cmake -S . -B "$asan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOSSDOCTOR_SANITIZE=ON \
    -DLOSSDOCTOR_BENCH=OFF
fi
pure_tests=(tests_spec tests_util tests_report tests_lint tests_diagnose tests_logs)
if ((${#only[@]} == 0)); then
  cmake --build "$asan" -j "$(nproc)" --target "${pure_tests[@]}"
  for t in "${pure_tests[@]}"; do
    echo "sanitize: $t"
    "$asan/$t" --gtest_brief=1
  done
fi

# Seconds left before the deadline (a large number when none is set).
time_left() { echo $((${LOSSDOCTOR_DEADLINE:-$(($(date +%s) + 100000))} - $(date +%s))); }

fuzz=${LOSSDOCTOR_FUZZ_DIR:-build-fuzz}
harnesses=(spec idx_images idx_labels cifar folder exclude log resume)
((${#only[@]} > 0)) && harnesses=("${only[@]}")
# A cold clang build of the harnesses takes ~4 min here; fuzzing needs ~5 s per harness at least.
fuzz_build_s=${LOSSDOCTOR_FUZZ_BUILD_S:-300}
if [[ "$mode" != --full ]] && (($(time_left) < fuzz_build_s + 5 * ${#harnesses[@]})); then
  echo "sanitize: fuzzing skipped: $(time_left) s left before the CI deadline;" \
    "run scripts/sanitize.sh (nightly: --full)"
  echo "sanitize: clean (tests only)"
  exit 0
fi
if [[ ! -f "$fuzz/build.ninja" ]]; then
  CC=clang CXX=clang++ cmake -S . -B "$fuzz" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DLOSSDOCTOR_FUZZ=ON -DLOSSDOCTOR_TESTS=OFF -DLOSSDOCTOR_BENCH=OFF
fi
cmake --build "$fuzz" -j "$(nproc)" --target "${harnesses[@]/%/_fuzz}"
# LeakSanitizer's end-of-run check stops the world through ptrace, which hangs in some
# containers; leaks are checked by the test binaries above instead.
export ASAN_OPTIONS=detect_leaks=0
remaining=${#harnesses[@]}
for h in "${harnesses[@]}"; do
  work=$(mktemp -d)
  mkdir -p "$work/corpus"
  # Each quick harness gets 20 s, or its share of the time left before the deadline.
  share=$((($(time_left) - 10) / remaining))
  remaining=$((remaining - 1))
  seconds=$((share < 20 ? share : 20))
  if [[ "$mode" == --full ]]; then
    limits=(-runs=1000000)
    # LOSSDOCTOR_FUZZ_MAX_S: a --full run that must end by a given time stops there instead.
    [[ -n "${LOSSDOCTOR_FUZZ_MAX_S:-}" ]] && limits+=(-max_total_time="$LOSSDOCTOR_FUZZ_MAX_S")
  elif ((seconds < 3)); then
    echo "sanitize: fuzz/$h skipped: the CI deadline is reached"
    rm -rf "$work"
    continue
  else
    limits=(-max_total_time="$seconds")
  fi
  echo "sanitize: fuzz/$h ${limits[*]}"
  rc=0
  start=$(date +%s)
  (cd "$work" && "$OLDPWD/$fuzz/fuzz/${h}_fuzz" "${limits[@]}" -timeout=10 -rss_limit_mb=2048 \
    -max_len=8192 -print_final_stats=1 "$work/corpus" "$OLDPWD/fuzz/corpus/$h" > "$work/log" 2>&1) ||
    rc=$?
  seconds_run=$(($(date +%s) - start))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
  grep -E "^stat::(number_of_executed_units|peak_rss_mb)" "$work/log" | tr '\n' ' ' &&
    echo "seconds: $seconds_run exec/s: $((${execs:-0} / (seconds_run > 0 ? seconds_run : 1)))"
  if ((rc != 0)); then
    # libFuzzer leaves crash-*/timeout-*/oom-* inputs next to a failure: keep them.
    mkdir -p fuzz/findings
    cp "$work"/crash-* "$work"/timeout-* "$work"/oom-* fuzz/findings/ 2>/dev/null || true
    tail -40 "$work/log"
    echo "sanitize: fuzz/$h failed (exit $rc); failing inputs in fuzz/findings/"
    exit 1
  fi
  rm -rf "$work"
done
echo "sanitize: clean"
