#!/usr/bin/python3
"""Data-parallel throughput: lossdoctor 1 process x 2 threads, lossdoctor 2 processes x 1 thread
(`train --nproc 2`) and PyTorch DDP 2 processes x 1 thread (pytorch_ddp.py), side by side.

    /usr/bin/python3 bench/perf/run_ddp.py                       # 3 rounds x (20 + 400) steps
    /usr/bin/python3 bench/perf/run_ddp.py --rounds 1 --warmup 3 --steps 20 --out /tmp/ddp.json

Same model, data and global batch (64) in all three (bench/perf/ddp-fashion-mnist.yaml; the
2-process runs take batch 32 per rank). Round r trains every configuration from seed r, in an
order that rotates every round so that machine noise hits all alike. Throughput is images of
the global batch per second over --steps steps after --warmup steps (lossdoctor: from the
`seconds` of its steps.jsonl, so start-up, data loading and the final validation pass are
outside the window; PyTorch: timed in rank 0's loop). The loss is the training loss of the
global batch (the mean over ranks), averaged over the last --loss-window steps, i.e. after the
same number of samples in every configuration; its spread over the seeds is the noise against
which the configurations are compared. Writes --out (JSON) and prints a summary.
Needs a Release build of `lossdoctor` (ninja -C build lossdoctor) and /usr/bin/python3 with torch.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CONFIGS = ("lossdoctor_1x2", "lossdoctor_2x1", "pytorch_ddp_2x1")


def load1():
    return os.getloadavg()[0]


def run_lossdoctor(a, name, seed, workdir):
    out = os.path.join(workdir, f"{name}-seed{seed}")
    nproc = 2 if name == "lossdoctor_2x1" else 1
    threads = 1 if nproc == 2 else 2
    cmd = [a.lossdoctor, "--threads", str(threads), "train", a.spec, "--out", out,
           "--max-steps", str(a.warmup + a.steps), "--set", f"seed={seed}",
           "--progress", "none", "--quiet"]
    if nproc > 1:
        cmd += ["--set", f"batch_size={a.global_batch // nproc}", "--nproc", str(nproc)]
    subprocess.run(cmd, check=True)
    with open(os.path.join(out, "steps.jsonl")) as f:
        steps = [json.loads(line) for line in f]
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    seconds = steps[a.warmup + a.steps - 1]["seconds"] - steps[a.warmup - 1]["seconds"]
    return {"images_per_second": a.steps * a.global_batch / seconds, "seconds": seconds,
            "loss": [s["loss"] for s in steps], "world_size": summary.get("world_size", 1),
            "replicas_identical": summary.get("replicas_identical")}


def run_pytorch(a, seed):
    cmd = [a.python, os.path.join(ROOT, "bench/perf/pytorch_ddp.py"), "--nproc", "2",
           "--threads", "1", "--batch-size", str(a.global_batch // 2), "--warmup", str(a.warmup),
           "--steps", str(a.steps), "--seed", str(seed), "--limit", str(a.limit)]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return {"images_per_second": r["images_per_second"], "seconds": r["seconds"],
            "loss": r["loss"], "world_size": r["world_size"], "torch": r["torch"]}


def window_mean(losses, end, width):
    part = losses[end - width:end]
    return sum(part) / len(part)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--loss-window", type=int, default=50,
                   help="steps averaged for the loss after the same number of samples")
    p.add_argument("--global-batch", type=int, default=64)
    p.add_argument("--limit", type=int, default=60000, help="training images (as the spec)")
    p.add_argument("--spec", default=os.path.join(ROOT, "bench/perf/ddp-fashion-mnist.yaml"))
    p.add_argument("--lossdoctor", default=os.path.join(ROOT, "build/lossdoctor"))
    p.add_argument("--python", default="/usr/bin/python3", help="a python with torch")
    p.add_argument("--out", default=os.path.join(ROOT, "bench/results/ddp.json"))
    a = p.parse_args()
    if a.warmup < 1 or a.steps < a.loss_window or a.loss_window < 1:
        p.error("need --warmup >= 1 and --steps >= --loss-window >= 1")
    end = a.warmup + a.steps

    load_before = os.getloadavg()
    if load_before[0] >= 0.5:
        print(f"warning: 1-minute load average {load_before[0]:.2f} >= 0.5: the machine is busy, "
              "the figures will be noisy", file=sys.stderr)
    runs = {c: [] for c in CONFIGS}
    with tempfile.TemporaryDirectory(prefix="ddp-bench-") as workdir:
        for r in range(a.rounds):
            order = CONFIGS[r % 3:] + CONFIGS[:r % 3]
            for name in order:
                before = load1()
                res = run_pytorch(a, r) if name.startswith("pytorch") else \
                    run_lossdoctor(a, name, r, workdir)
                res.update(seed=r, load1_before=before, load1_after=load1(),
                           final_loss=window_mean(res["loss"], end, a.loss_window))
                runs[name].append(res)
                print(f"round {r + 1} {name:16s} {res['images_per_second']:8.1f} images/s  "
                      f"loss(last {a.loss_window}) {res['final_loss']:.4f}  "
                      f"load {before:.2f}", file=sys.stderr)

    summary = {}
    blocks = range(end - (end // a.loss_window - 1) * a.loss_window, end + 1, a.loss_window)
    for name, rs in runs.items():
        finals = [x["final_loss"] for x in rs]
        summary[name] = {
            "images_per_second_median": statistics.median(x["images_per_second"] for x in rs),
            "final_loss_mean": statistics.mean(finals),
            "final_loss_stdev_over_seeds": statistics.stdev(finals) if len(finals) > 1 else None,
            # The curve: the loss averaged over each block of --loss-window steps, then over seeds.
            "curve_steps": list(blocks),
            "curve": [statistics.mean(window_mean(x["loss"], b, a.loss_window) for x in rs)
                      for b in blocks],
        }
    ips = {n: s["images_per_second_median"] for n, s in summary.items()}
    noise = [s["final_loss_stdev_over_seeds"] for s in summary.values()]
    noise = statistics.mean(noise) if None not in noise else None
    # Per seed, each configuration's loss minus the single-process run's: paired differences.
    paired = {n: [x["final_loss"] - y["final_loss"] for x, y in zip(runs[n], runs["lossdoctor_1x2"])]
              for n in CONFIGS[1:]}
    for rs in runs.values():  # per-step losses → the run's block means, to keep the JSON small
        for x in rs:
            losses = x.pop("loss")
            x["curve"] = [round(window_mean(losses, b, a.loss_window), 5) for b in blocks]
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), "?")
    result = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
                    "load_before": load_before, "load_after": os.getloadavg()},
        "command": " ".join([os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:]),
        "spec": os.path.relpath(a.spec, ROOT), "global_batch_size": a.global_batch,
        "rounds": a.rounds, "warmup": a.warmup, "steps": a.steps, "loss_window": a.loss_window,
        "samples_at_final_loss": end * a.global_batch,
        "summary": summary,
        "ratios": {
            "lossdoctor_2x1_over_pytorch_ddp": ips["lossdoctor_2x1"] / ips["pytorch_ddp_2x1"],
            "lossdoctor_1x2_over_pytorch_ddp": ips["lossdoctor_1x2"] / ips["pytorch_ddp_2x1"],
            "lossdoctor_2x1_over_lossdoctor_1x2": ips["lossdoctor_2x1"] / ips["lossdoctor_1x2"],
        },
        "target_ratio_lossdoctor_2x1_over_pytorch_ddp": 1.0,
        "final_loss_minus_single_process": paired,
        "final_loss_noise_stdev": noise,
        "runs": runs,
    }
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")

    for name in CONFIGS:
        s, rounds = summary[name], ", ".join(f"{x['images_per_second']:.1f}" for x in runs[name])
        print(f"{name:16s} median {s['images_per_second_median']:8.1f} images/s  rounds "
              f"{rounds}  loss after "
              f"{end * a.global_batch} samples {s['final_loss_mean']:.4f}"
              + (f" ± {s['final_loss_stdev_over_seeds']:.4f}" if s["final_loss_stdev_over_seeds"]
                 is not None else ""))
    print(f"loss curve (mean of each block of {a.loss_window} steps, over seeds), at step: "
          + " ".join(f"{b:>6d}" for b in blocks))
    for name in CONFIGS:
        print(f"  {name:16s}" + " ".join(f"{v:6.3f}" for v in summary[name]["curve"]))
    for k, v in result["ratios"].items():
        print(f"{k} = {v:.3f}")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
