#!/usr/bin/env python3
"""Scores a zoo from the per-run reports that `lossdoctor-bench zoo` leaves in its temporary
folders (/tmp/lossdoctor-zoo-<pid>/<case>-<seed>.json), with the scoreboard's rules
(bench/zoo/zoo_main.cpp): top-1 is the first finding's cause, top-3 any of the first three,
both against the case header's `# truth:` and `# accept:`; a fault run is detected when its
verdict is unhealthy; a control run (truth healthy) is a false alarm when it is not healthy.

For a scoring split over several processes, or one that was stopped before it wrote its JSON:
    python3 bench/zoo/score_reports.py --cases bench/zoo-heldout3/cases SOURCE... [--json OUT]
                                       [--only GLOB[,GLOB]]
Each SOURCE is a report folder (lossdoctor-bench zoo's or bench/zoo/diagnose_cases.py's) or a
scoreboard JSON (`--out` of lossdoctor-bench zoo). A
(case, seed) found in several sources counts once (the last source given wins). --only keeps
the cases whose id matches one of the globs.
"""
import argparse
import fnmatch
import glob
import json
import os
import re


def header(path):
    truth, accept = None, []
    with open(path) as f:
        for line in f:
            if not line.startswith("#"):
                break
            m = re.match(r"# truth: *(\S+)", line)
            if m:
                truth = m.group(1)
            m = re.match(r"# accept: *(.*)$", line)
            if m:
                accept = [a.strip() for a in m.group(1).split(",") if a.strip()]
    return truth, accept


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", required=True)
    ap.add_argument("sources", nargs="+")
    ap.add_argument("--json")
    ap.add_argument("--only")
    a = ap.parse_args()
    cases = {}
    for y in glob.glob(os.path.join(a.cases, "*.yaml")):
        cases[os.path.basename(y)[:-5]] = header(y)
    runs = {}
    for d in a.sources:
        if os.path.isfile(d):  # a scoreboard: its runs' causes and verdicts
            with open(d) as fh:
                board = json.load(fh)
            for c in board.get("cases", []):
                if c["case"] not in cases:
                    continue
                for r in c["runs"]:
                    runs[(c["case"], int(r["seed"]))] = {
                        "verdict": r.get("verdict"),
                        "findings": [{"cause": x} for x in r.get("causes", [])]}
            continue
        for f in glob.glob(os.path.join(d, "*.json")):
            # <case>-<seed>.json (lossdoctor-bench zoo) or <zoo>__<case>__<seed>.json
            # (bench/zoo/diagnose_cases.py)
            m = (re.match(r"[^_]+__(.+)__(\d+)\.json$", os.path.basename(f))
                 or re.match(r"(.+)-(\d+)\.json$", os.path.basename(f)))
            if not m or m.group(1) not in cases:
                continue
            try:
                with open(f) as fh:
                    report = json.load(fh)
            except (OSError, ValueError):
                continue  # a run that was still writing
            runs[(m.group(1), int(m.group(2)))] = report
    tally = {"fault_runs": 0, "detected": 0, "top1": 0, "top3": 0, "hard_runs": 0, "hard_top1": 0,
             "hard_top3": 0, "control_runs": 0, "false_alarms": 0}
    wrong = []
    if a.only:
        globs = a.only.split(",")
        runs = {k: v for k, v in runs.items() if any(fnmatch.fnmatch(k[0], g) for g in globs)}
    for (case, seed), r in sorted(runs.items()):
        truth, accept = cases[case]
        ok = lambda c: c == truth or c in accept
        causes = [f.get("cause", "") for f in r.get("findings", [])]
        if truth == "healthy":
            tally["control_runs"] += 1
            if r.get("verdict") != "healthy":
                tally["false_alarms"] += 1
                wrong.append((case, seed, causes[:3]))
            continue
        right = bool(causes) and ok(causes[0])
        top3 = any(ok(c) for c in causes[:3])
        tally["fault_runs"] += 1
        tally["detected"] += r.get("verdict") == "unhealthy"
        tally["top1"] += right
        tally["top3"] += top3
        if case.startswith("hard-"):
            tally["hard_runs"] += 1
            tally["hard_top1"] += right
            tally["hard_top3"] += top3
        if not right:
            wrong.append((case, seed, causes[:3]))
    pct = lambda n, d: round(100.0 * n / d, 1) if d else None
    out = dict(tally)
    out.update(recall=pct(tally["detected"], tally["fault_runs"]),
               top1_pct=pct(tally["top1"], tally["fault_runs"]),
               top3_pct=pct(tally["top3"], tally["fault_runs"]),
               hard_top1_pct=pct(tally["hard_top1"], tally["hard_runs"]),
               hard_top3_pct=pct(tally["hard_top3"], tally["hard_runs"]),
               wrong=[{"case": c, "seed": s, "top3": t} for c, s, t in wrong])
    text = json.dumps(out, indent=1)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
