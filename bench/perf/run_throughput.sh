#!/usr/bin/env bash
# Training throughput: lossdoctor vs PyTorch eager on examples/fashion-mnist.yaml, side by side.
#
#   bench/perf/run_throughput.sh            # ROUNDS=3 STEPS=300 WARMUP=20 THREADS=$(nproc)
#   ROUNDS=3 STEPS=100 bench/perf/run_throughput.sh
#
# Alternates lossdoctor (build/bench/train_bench) and PyTorch eager (/usr/bin/python3
# bench/perf/pytorch_baseline.py) round by round so that machine noise hits both alike, prints
# per-round images/s, the medians and the ratio lossdoctor/PyTorch, measures the data pipeline
# (build/bench/loader_bench) and writes bench/results/throughput.json.
# Needs: a Release build with the bench targets (ninja -C build train_bench loader_bench).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SPEC=${SPEC:-examples/fashion-mnist.yaml}
ROUNDS=${ROUNDS:-3}
STEPS=${STEPS:-300}
WARMUP=${WARMUP:-20}
THREADS=${THREADS:-$(nproc)}
PYTHON=${PYTHON:-/usr/bin/python3}
OUT=${OUT:-bench/results/throughput.json}

if [[ ! -x $BUILD/bench/train_bench || ! -x $BUILD/bench/loader_bench ]]; then
  echo "building bench targets in $BUILD" >&2
  ninja -C "$BUILD" train_bench loader_bench >&2
fi
mkdir -p "$(dirname "$OUT")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
: >"$tmp/ld.jsonl"; : >"$tmp/pt.jsonl"
for r in $(seq 1 "$ROUNDS"); do
  "$BUILD/bench/train_bench" "$SPEC" --threads "$THREADS" --warmup "$WARMUP" --steps "$STEPS" \
    | tee -a "$tmp/ld.jsonl" >/dev/null
  "$PYTHON" bench/perf/pytorch_baseline.py --threads "$THREADS" --warmup "$WARMUP" --steps "$STEPS" \
    | tee -a "$tmp/pt.jsonl" >/dev/null
  printf 'round %d: lossdoctor %.1f images/s, pytorch %.1f images/s\n' "$r" \
    "$(tail -1 "$tmp/ld.jsonl" | "$PYTHON" -c 'import json,sys;print(json.load(sys.stdin)["images_per_second"])')" \
    "$(tail -1 "$tmp/pt.jsonl" | "$PYTHON" -c 'import json,sys;print(json.load(sys.stdin)["images_per_second"])')" >&2
done
"$BUILD/bench/loader_bench" "$SPEC" --threads "$THREADS" --batches 1000 >"$tmp/loader.json"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

"$PYTHON" - "$tmp" "$OUT" "$SPEC" "$THREADS" "$STEPS" "$WARMUP" <<'PY'
import json, platform, statistics, subprocess, sys, datetime
tmp, out, spec, threads, steps, warmup = sys.argv[1:7]
ld = [json.loads(l) for l in open(f"{tmp}/ld.jsonl")]
pt = [json.loads(l) for l in open(f"{tmp}/pt.jsonl")]
loader = json.load(open(f"{tmp}/loader.json"))
ld_ips = [r["images_per_second"] for r in ld]
pt_ips = [r["images_per_second"] for r in pt]
ld_med, pt_med = statistics.median(ld_ips), statistics.median(pt_ips)
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
res = {
    "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    "machine": {"cpu": cpu, "cores": int(subprocess.check_output(["nproc"]).decode()),
                "kernel": platform.release()},
    "spec": spec, "threads": int(threads), "steps": int(steps), "warmup": int(warmup),
    "batch_size": ld[0]["batch_size"],
    "lossdoctor": {"images_per_second": ld_ips, "median": ld_med,
                   "setup_seconds": [r["setup_seconds"] for r in ld]},
    "pytorch_eager": {"images_per_second": pt_ips, "median": pt_med, "torch": pt[0]["torch"],
                      "load_plus_prepare_seconds": [r["load_seconds"] + r["prepare_seconds"] for r in pt]},
    "ratio_lossdoctor_over_pytorch": ld_med / pt_med,
    "target_ratio": 1.1,
    "loader": loader,
    "loader_vs_training": loader["images_per_second"] / ld_med,
    "loader_share_of_step": (loader["us_per_batch"] * 1e-6) / (ld[0]["batch_size"] / ld_med),
}
json.dump(res, open(out, "w"), indent=2)
open(out, "a").write("\n")
print(f"lossdoctor    median {ld_med:8.1f} images/s  rounds {', '.join(f'{v:.1f}' for v in ld_ips)}")
print(f"pytorch eager median {pt_med:8.1f} images/s  rounds {', '.join(f'{v:.1f}' for v in pt_ips)}")
print(f"ratio lossdoctor/pytorch = {res['ratio_lossdoctor_over_pytorch']:.3f} (target >= 1.1)")
print(f"data: load {loader['load_seconds']:.2f} s + prepare {loader['prepare_seconds']:.2f} s once; "
      f"Loader::batch {loader['images_per_second']:.0f} images/s = {res['loader_vs_training']:.0f}x training, "
      f"{100 * res['loader_share_of_step']:.1f}% of a step")
print(f"wrote {out}")
PY
