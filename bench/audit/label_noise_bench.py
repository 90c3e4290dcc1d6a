#!/usr/bin/env python3
"""Label-noise benchmark of `lossdoctor audit` (issue 5), driving the CLI; stdlib only.

For each seed and noise level (uniform: each flipped label becomes a different random class):
  1. `lossdoctor audit` on the 12k stratified Fashion-MNIST subset with the noise injected;
     precision / recall / F1 of the flagged samples (union of the label_noise findings' samples,
     positions in the audited train split) against the injected flips (positions in the same split);
     the same for exclude.txt, which drops only the confident suspects (docs/label_issues.md);
  2. three trainings for the same budget and seed: clean, noisy, and noisy minus the audit's
     exclude.txt (source indices; the data stage draws limit and noise before excluding, so the
     samples left keep their noisy-run labels); final val accuracy on the 10k test set;
     recovered = (cleaned - noisy) / (clean - noisy).

Usage (from the repository root, ~25 min at the defaults on an idle core):
  python3 bench/audit/label_noise_bench.py --json bench/results/label_noise.json
"""

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def run(cmd, log_path):
    """Runs cmd, its output to log_path; returns (exit status, seconds)."""
    start = time.monotonic()
    with open(log_path, "w") as log:
        rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT)
    return rc, time.monotonic() - start


def train(args, work, name, sets):
    out = os.path.join(work, name)
    summary_path = os.path.join(out, "summary.json")
    if not (args.reuse and os.path.exists(summary_path)):
        cmd = [args.lossdoctor, "--threads", str(args.threads), "train", args.spec, "--out", out]
        for s in sets:
            cmd += ["--set", s]
        rc, _ = run(cmd, out + ".log")
        if rc != 0:
            sys.exit(f"train {name} failed (exit {rc}); see {out}.log")
    with open(summary_path) as f:
        summary = json.load(f)
    return summary["val_accuracy"], summary["seconds"]


def scores(flagged, injected):
    hits = len(flagged & injected)
    precision = hits / len(flagged) if flagged else 0.0
    recall = hits / len(injected) if injected else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def audit(args, work, name, sets):
    out = os.path.join(work, name)
    report = out + ".json"
    cmd = [args.lossdoctor, "--threads", str(args.threads), "audit", args.spec, "--json", report,
           "--out", out, "--folds", str(args.folds), "--epochs", str(args.epochs),
           "--rounds", str(args.rounds)]
    for s in sets:
        cmd += ["--set", s]
    seconds = None
    if not (args.reuse and os.path.exists(report)):
        rc, seconds = run(cmd, out + ".log")
        if rc not in (0, 1):  # 0 healthy, 1 faults found
            sys.exit(f"audit {name} failed (exit {rc}); see {out}.log")
        with open(out + ".seconds", "w") as f:
            f.write(f"{seconds}\n")
    elif os.path.exists(out + ".seconds"):
        with open(out + ".seconds") as f:
            seconds = float(f.read())
    with open(report) as f:
        r = json.load(f)
    injected = set(r.get("injected", {}).get("label_noise", []))
    # Every label_noise finding counts (what exclude.txt drops): the cross-validated check's, and
    # the duplicate check's groups of (near-)identical images with different labels. The
    # cross-validated one alone is scored too: its evidence names confident learning.
    flagged, cross_validated = set(), set()
    rate = None
    for finding in r["findings"]:
        if finding["cause"] != "label_noise":
            continue
        flagged.update(finding.get("samples", []))
        for e in finding["evidence"]:
            if e.startswith("estimated label noise rate"):
                rate = float(e.split()[4].rstrip("%")) / 100
                cross_validated.update(finding.get("samples", []))
    with open(os.path.join(out, "exclude.txt")) as f:
        excluded_sources = {int(line) for line in f if line.strip() and not line.startswith("#")}
    # exclude.txt holds source indices; label_scores.csv maps them back to train positions.
    with open(os.path.join(out, "label_scores.csv")) as f:
        position_of = {int(row["source_index"]): int(row["position"])
                       for row in csv.DictReader(f)}
    excluded = {position_of[s] for s in excluded_sources if s in position_of}
    precision, recall, f1 = scores(flagged, injected)
    cv_precision, cv_recall, cv_f1 = scores(cross_validated, injected)
    ex_precision, ex_recall, ex_f1 = scores(excluded, injected)
    return {"injected": len(injected), "flagged": len(flagged),
            "excluded": len(excluded_sources), "excluded_flips": len(excluded & injected),
            "excluded_precision": ex_precision, "excluded_recall": ex_recall,
            "excluded_f1": ex_f1, "precision": precision, "recall": recall, "f1": f1,
            "cv_flagged": len(cross_validated), "cv_precision": cv_precision,
            "cv_recall": cv_recall, "cv_f1": cv_f1, "estimated_noise_rate": rate,
            "seconds": seconds, "exclude_file": os.path.join(out, "exclude.txt")}


def mean_spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return statistics.mean(values), (max(values) - min(values)) / 2


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--levels", default="0.05,0.2,0.4", help="noise fractions, comma-separated")
    p.add_argument("--seeds", default="0,1,2", help="spec seeds (noise draw, subset, init)")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--lossdoctor", default="build/lossdoctor")
    p.add_argument("--spec", default="examples/fashion-mnist-12k-noise.yaml")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--folds", type=int, default=4, help="audit --folds")
    p.add_argument("--epochs", type=int, default=2, help="audit --epochs")
    p.add_argument("--rounds", type=int, default=2, help="audit --rounds (2: with the refit)")
    p.add_argument("--work", help="keep run directories here (default: a temporary directory)")
    p.add_argument("--reuse", action="store_true",
                   help="with --work: reuse the runs already there (rescore, resume)")
    args = p.parse_args()
    levels = [float(x) for x in args.levels.split(",")]
    seeds = [int(x) for x in args.seeds.split(",")]
    work = args.work or tempfile.mkdtemp(prefix="label_noise_bench_")
    os.makedirs(work, exist_ok=True)
    started = time.monotonic()

    rows = []
    run_seconds = 0.0  # the CLI runs' own seconds (the same whether fresh or --reuse'd)
    for seed in seeds:
        clean_acc, clean_s = train(args, work, f"s{seed}-clean", [f"seed={seed}"])
        run_seconds += clean_s
        print(f"seed {seed}: clean val accuracy {clean_acc:.4f} ({clean_s:.0f} s)", flush=True)
        for level in levels:
            noise = [f"seed={seed}", f"data.inject.label_noise.fraction={level}"]
            tag = f"s{seed}-n{level:g}"
            a = audit(args, work, tag + "-audit", noise)
            noisy_acc, noisy_s = train(args, work, tag + "-noisy", noise)
            cleaned_acc, cleaned_s = train(args, work, tag + "-cleaned",
                                           noise + [f"data.train.exclude={a['exclude_file']}"])
            run_seconds += (a["seconds"] or 0) + noisy_s + cleaned_s
            lost = clean_acc - noisy_acc
            recovered = (cleaned_acc - noisy_acc) / lost if lost > 0 else None
            row = {"seed": seed, "noise": level, "clean_acc": clean_acc, "noisy_acc": noisy_acc,
                   "cleaned_acc": cleaned_acc, "recovered": recovered}
            row.update({k: v for k, v in a.items() if k != "exclude_file"})
            rows.append(row)
            print(f"  noise {level:.0%}: P {a['precision']:.3f} R {a['recall']:.3f} "
                  f"F1 {a['f1']:.3f} (flagged {a['flagged']} / injected {a['injected']}; "
                  f"excluded {a['excluded']}, {a['excluded_flips']} of them flips; audit "
                  f"{a['seconds'] or 0:.0f} s); val acc noisy {noisy_acc:.4f} cleaned {cleaned_acc:.4f}"
                  + (f" recovered {recovered:.2f}" if recovered is not None else ""), flush=True)

    summary = []
    print()
    keys = ("precision", "recall", "f1", "cv_f1", "excluded_precision", "excluded_recall",
            "estimated_noise_rate", "clean_acc", "noisy_acc", "cleaned_acc", "recovered")
    print("| noise | precision | recall | F1 | F1 (cross-validated finding only) "
          "| exclude.txt precision | exclude.txt recall | est. rate "
          "| clean acc | noisy acc | cleaned acc | recovered |")
    print("|---" * (len(keys) + 1) + "|")
    for level in levels:
        sel = [r for r in rows if r["noise"] == level]
        agg = {"noise": level, "seeds": [r["seed"] for r in sel]}
        cells = []
        for key in keys + ("cv_precision", "cv_recall", "excluded_f1"):
            m, s = mean_spread([r[key] for r in sel])
            agg[key] = {"mean": m, "half_range": s}
            if key in keys:
                cells.append("–" if m is None else f"{m:.3f} ± {s:.3f}")
        # The recovered fraction of the mean gap (steadier than the mean of per-seed ratios).
        gap = agg["clean_acc"]["mean"] - agg["noisy_acc"]["mean"]
        agg["recovered_of_mean_gap"] = (
            (agg["cleaned_acc"]["mean"] - agg["noisy_acc"]["mean"]) / gap if gap > 0 else None)
        summary.append(agg)
        print(f"| {level:.0%} | " + " | ".join(cells) + " |")
    total = time.monotonic() - started
    print(f"\n{len(seeds)} seed(s), {total / 60:.1f} min wall, {run_seconds / 60:.1f} min in the "
          f"CLI runs; run directories in {work}")

    if args.json:
        result = {
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
            "spec": args.spec, "threads": args.threads,
            "audit": {"folds": args.folds, "epochs": args.epochs, "rounds": args.rounds},
            "val": "Fashion-MNIST test set, all 10000 images",
            "scoring": "flagged = union of label_noise findings' samples (train positions); "
                       "injected = injected.label_noise (train positions of the same split); "
                       "excluded = exclude.txt (source indices) mapped to train positions by "
                       "label_scores.csv",
            "wall_seconds": total, "run_seconds": run_seconds, "runs": rows, "summary": summary,
        }
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
