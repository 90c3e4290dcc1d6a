#!/usr/bin/env python3
"""Merges `lossdoctor-bench zoo --out` JSON files of one case directory into one scoreboard.

The fault cases and the healthy controls are often scored in separate runs (controls at 10 seeds,
faults at 3), or a run is split across machines; this script pools their runs per case and
prints the scoreboard as Markdown (recall, false alarms, top-1/top-3, the hard group, the
confirmation rates, the per-case table and the confusion table) and, with --out, the pooled JSON.

    python3 bench/zoo/merge_scoreboards.py RESULT.json [RESULT.json ...] [--title T] [--out F]
        [--update-docs docs/BENCHMARKS.md --marker zoo-heldout --command "how it was run"]

A case that appears in several files keeps all their runs (seeds are not deduplicated: pass files
of disjoint runs). Python standard library only.
"""
import argparse
import datetime
import json
import os
import statistics
import tempfile


def correct(case, cause):
    return cause == case["truth"] or cause in case.get("accept", [])


def pool(paths):
    cases = {}
    meta = []
    for p in paths:
        with open(p) as fh:
            d = json.load(fh)
        meta.append({k: d.get(k) for k in ("date", "seeds", "control_seeds", "jobs", "filter",
                                           "wall_minutes")})
        for c in d["cases"]:
            entry = cases.setdefault(c["case"], {k: v for k, v in c.items() if k != "runs"})
            entry.setdefault("runs", []).extend(r for r in c["runs"] if not r.get("error"))
    return cases, meta


def pct(n, d):
    return f"{100.0 * n / d:.1f}%" if d else "n/a"


def scoreboard(cases, title):
    faults = [c for c in cases.values() if c["truth"] != "healthy"]
    controls = [c for c in cases.values() if c["truth"] == "healthy"]
    fault_runs = [(c, r) for c in faults for r in c["runs"]]
    control_runs = [(c, r) for c in controls for r in c["runs"]]
    hard = [(c, r) for c, r in fault_runs if c["case"].startswith("hard-")]
    spec_faults = [(c, r) for c, r in fault_runs if not c["case"].startswith("loop-")]

    def top(c, r, k):
        return any(correct(c, x) for x in r["causes"][:k])

    recall = sum(r["verdict"] == "unhealthy" for _, r in fault_runs)
    alarms = sum(r["verdict"] == "unhealthy" for _, r in control_runs)
    top1 = sum(top(c, r, 1) for c, r in fault_runs)
    top3 = sum(top(c, r, 3) for c, r in fault_runs)
    confirmed = sum(r.get("truth_status") == "confirmed" for _, r in spec_faults)
    refuted = sum(r.get("truth_status") == "refuted" for _, r in spec_faults)
    control_confirmed = sum("confirmed" in r.get("statuses", []) for _, r in control_runs)
    costs = [r["cost_ratio"] for _, r in fault_runs + control_runs if r.get("cost_ratio")]
    seeds_f = sorted({len(c["runs"]) for c in faults})
    seeds_c = sorted({len(c["runs"]) for c in controls})
    lines = [
        f"| metric | {title} |",
        "|---|---|",
        f"| fault cases × seeds | {len(faults)} cases, {len(fault_runs)} runs "
        f"(seeds per case: {', '.join(map(str, seeds_f))}) |",
        f"| healthy controls × seeds | {len(controls)} controls, {len(control_runs)} runs "
        f"(seeds per control: {', '.join(map(str, seeds_c))}) |",
        f"| detection recall (verdict unhealthy) | {pct(recall, len(fault_runs))} "
        f"({recall} of {len(fault_runs)}) |",
        f"| false alarms on controls | {pct(alarms, len(control_runs))} "
        f"({alarms} of {len(control_runs)}) |",
        f"| top-1 cause accuracy | {pct(top1, len(fault_runs))} ({top1} of {len(fault_runs)}) |",
        f"| top-3 cause accuracy | {pct(top3, len(fault_runs))} ({top3} of {len(fault_runs)}) |",
    ]
    if hard:
        h1 = sum(top(c, r, 1) for c, r in hard)
        h3 = sum(top(c, r, 3) for c, r in hard)
        hr = sum(r["verdict"] == "unhealthy" for _, r in hard)
        lines.append(f"| hard group (`hard-*`): recall / top-1 / top-3 | {pct(hr, len(hard))} / "
                     f"{pct(h1, len(hard))} / {pct(h3, len(hard))} ({len(hard)} runs) |")
    lines += [
        f"| true cause `confirmed` by its rerun (spec faults) | {pct(confirmed, len(spec_faults))}"
        f" ({confirmed} of {len(spec_faults)}; refuted: {refuted}) |",
        f"| controls with a `confirmed` finding | {control_confirmed} of {len(control_runs)} |",
    ]
    if costs:
        q = statistics.quantiles(costs, n=10)[-1] if len(costs) > 1 else costs[0]
        lines.append(f"| confirmation cost / diagnosis run: median / p90 / max | "
                     f"{statistics.median(costs):.2f} / {q:.2f} / {max(costs):.2f} |")

    rows = ["| case | truth | top cause per seed | right (top-1) | in top 3 | truth status per seed |",
            "|---|---|---|---|---|---|"]
    for cid in sorted(cases):
        c = cases[cid]
        runs = sorted(c["runs"], key=lambda r: r["seed"])
        tops = [r["causes"][0] if r["causes"] else "—" for r in runs]
        shown = ", ".join(sorted(set(tops), key=tops.index))
        right = sum(correct(c, t) for t in tops)
        in3 = sum(top(c, r, 3) for r in runs)
        statuses = ", ".join(r.get("truth_status", "—") for r in runs) if c["truth"] != "healthy" \
            else ", ".join(r["verdict"] for r in runs if r["verdict"] != "healthy") or "all healthy"
        rows.append(f"| {cid} | {c['truth']} | {shown} | {right}/{len(runs)} | {in3}/{len(runs)} "
                    f"| {statuses} |")

    truths = sorted({c["truth"] for c in cases.values()})
    predicted = sorted({r["causes"][0] for c in cases.values() for r in c["runs"] if r["causes"]})
    conf = ["| truth \\ predicted | " + " | ".join(predicted) + " |",
            "|---|" + "---|" * len(predicted)]
    for t in truths:
        counts = {p: 0 for p in predicted}
        for c in cases.values():
            if c["truth"] != t:
                continue
            for r in c["runs"]:
                if r["causes"]:
                    counts[r["causes"][0]] += 1
        conf.append(f"| {t} | " + " | ".join(str(counts[p]) if counts[p] else "" for p in predicted)
                    + " |")
    return "\n".join(lines), "\n".join(rows), "\n".join(conf)


def update_docs(path, marker, text):
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    with open(path) as fh:
        doc = fh.read()
    if begin in doc and end in doc:
        doc = doc[: doc.index(begin) + len(begin)] + "\n" + text + "\n" + doc[doc.index(end):]
    else:
        doc += f"\n{begin}\n{text}\n{end}\n"
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)))
    with os.fdopen(fd, "w") as fh:
        fh.write(doc)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", nargs="+")
    ap.add_argument("--title", default="value")
    ap.add_argument("--out")
    ap.add_argument("--update-docs")
    ap.add_argument("--marker", default="zoo")
    ap.add_argument("--command", default="")
    a = ap.parse_args()
    cases, meta = pool(a.results)
    summary, per_case, confusion = scoreboard(cases, a.title)
    text = (f"Measured {datetime.date.today()} ({a.command}).\n\n{summary}\n\n{per_case}\n\n"
            f"Confusion (rows: truth, columns: top cause; all seeds):\n\n{confusion}\n")
    print(text)
    if a.out:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(a.out)) or ".")
        with os.fdopen(fd, "w") as fh:
            json.dump({"sources": meta, "cases": list(cases.values())}, fh, indent=1)
        os.replace(tmp, a.out)
    if a.update_docs:
        update_docs(a.update_docs, a.marker, text)


if __name__ == "__main__":
    main()
