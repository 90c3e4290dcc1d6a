#!/usr/bin/env python3
"""Measures how hard a spec's gradient clip bites, on every clipped case of the given zoos.

For each case with `clip_grad_norm`, trains it as the diagnosis would see it (`lossdoctor train
CASE --max-steps STEPS --set seed=SEED`, plain training, no diagnosis) and reads the gradient
norms the trainer logs before clipping (steps.csv): their median over the clip (the ratio the
grad_clip_too_tight rule compares with its bars) and the share of steps the clip shortened. One
JSON line per case: {"zoo", "case", "truth", "clip", "steps", "median_grad_norm", "ratio",
"clipped_share", "effect"} (effect: the case header's measured effect line).

    python3 bench/zoo/survey_grad_clip.py --cli build/lossdoctor --out F.jsonl \\
        [--steps 300] [--seed 0] [--filter GLOB,...] bench/zoo bench/zoo-heldout2 ...

Appends to --out and skips the cases already in it, so an interrupted survey resumes. Runs one
training at a time with `--threads 1`.
"""
import argparse
import fnmatch
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile


def header(path, key):
    with open(path) as fh:
        m = re.search(rf"^# {key}: *(.*)$", fh.read(), re.M)
    return m.group(1).strip() if m else ""


def clip_of(path):
    with open(path) as fh:
        m = re.search(r"^clip_grad_norm: *([0-9.eE+-]+) *$", fh.read(), re.M)
    return float(m.group(1)) if m else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--filter", default="*", help="case-name globs, comma-separated")
    ap.add_argument("zoos", nargs="+")
    a = ap.parse_args()
    done = set()
    if os.path.exists(a.out):
        with open(a.out) as fh:
            for line in fh:
                r = json.loads(line)
                done.add((r["zoo"], r["case"]))
    cli = os.path.abspath(a.cli)
    for zoo in a.zoos:
        cases = os.path.join(zoo, "cases")
        for name in sorted(os.listdir(cases)):
            case = name[:-5]
            path = os.path.join(cases, name)
            if not name.endswith(".yaml") or not any(
                    fnmatch.fnmatch(case, g) for g in a.filter.split(",")):
                continue
            clip = clip_of(path)
            if clip is None or (os.path.basename(zoo.rstrip("/")), case) in done:
                continue
            with tempfile.TemporaryDirectory() as out:
                cmd = [cli, "--threads", "1", "train", name, "--max-steps", str(a.steps),
                       "--set", f"seed={a.seed}", "-o", out]
                r = subprocess.run(cmd, cwd=cases, capture_output=True, text=True)
                if r.returncode != 0:
                    print(f"{case}: exit {r.returncode}: {r.stderr.strip()[-300:]}", file=sys.stderr)
                    continue
                with open(os.path.join(out, "steps.csv")) as fh:
                    rows = fh.read().splitlines()[1:]
            norms = [float(row.split(",")[4]) for row in rows if row]
            finite = [g for g in norms if g == g and g != float("inf")]
            med = statistics.median(finite) if finite else float("nan")
            rec = {
                "zoo": os.path.basename(zoo.rstrip("/")),
                "case": case,
                "truth": header(path, "truth"),
                "clip": clip,
                "steps": len(norms),
                "median_grad_norm": med,
                "ratio": med / clip,
                "clipped_share": sum(g > clip for g in finite) / max(1, len(finite)),
                "effect": header(path, r"effect[^:]*"),
            }
            with open(a.out, "a") as fh:
                fh.write(json.dumps(rec) + "\n")
            print(f"{rec['zoo']}/{case}: ratio {rec['ratio']:.2f}, clipped "
                  f"{100 * rec['clipped_share']:.0f}%", flush=True)


if __name__ == "__main__":
    main()
