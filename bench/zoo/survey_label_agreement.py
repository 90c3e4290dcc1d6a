#!/usr/bin/python3
"""Measures the label agreement (docs/audit.md) on the data of every case of the given zoos.

Cases that read the same data the same way (the same `data:` section: files, limits, injections,
transforms) share one measurement: the agreement depends on the data and its deterministic
preparation only (its models are seeded by AgreementOptions::seed, not by the run's seed), so one
`lossdoctor audit CASE --no-labels` per configuration gives the value every run of those cases
sees. One JSON line per configuration: {"key", "zoo", "cases", "note", "finding"} — the same
shape as bench/results/label-agreement-survey-session17.jsonl.

    /usr/bin/python3 bench/zoo/survey_label_agreement.py --cli build/lossdoctor \\
        --out bench/results/label-agreement-survey-sessionN.jsonl bench/zoo-heldout11 ...

Needs PyYAML (Debian's python3-yaml, hence /usr/bin/python3). Appends to --out and skips the
configurations already in it, so an interrupted survey resumes.
"""
import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml


def configurations(zoo_dir):
    """{key: [case paths]} for the zoo's cases, keyed by their data section."""
    cases_dir = os.path.join(zoo_dir, "cases")
    out = {}
    for name in sorted(os.listdir(cases_dir)):
        if not name.endswith(".yaml"):
            continue
        path = os.path.join(cases_dir, name)
        with open(path) as fh:
            spec = yaml.safe_load(fh)
        data = spec.get("data", {})
        key = hashlib.md5(json.dumps(data, sort_keys=True).encode()).hexdigest()
        out.setdefault(key, []).append(path)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cli", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("zoos", nargs="+", help="zoo directories (each with cases/)")
    args = ap.parse_args()
    done = set()
    if os.path.exists(args.out):
        with open(args.out) as fh:
            done = {json.loads(line)["key"] for line in fh if line.strip()}
    cli = os.path.abspath(args.cli)
    for zoo in args.zoos:
        zoo_name = os.path.basename(os.path.normpath(zoo))
        for key, paths in configurations(zoo).items():
            if key in done:
                continue
            case = paths[0]
            with tempfile.TemporaryDirectory() as tmp:
                report_path = os.path.join(tmp, "audit.json")
                proc = subprocess.run([cli, "--threads", "1", "audit", os.path.basename(case),
                                       "--no-labels", "--quiet", "--json", report_path],
                                      cwd=os.path.dirname(case), capture_output=True, text=True)
                if not os.path.exists(report_path):  # the audit refused the case (exit 2)
                    sys.exit(f"{case}: audit wrote no report (exit status {proc.returncode}): "
                             f"{proc.stderr.strip()}")
                with open(report_path) as fh:
                    report = json.load(fh)
            note = next((n for n in report.get("notes", [])
                         if n.startswith("label agreement")), "")
            finding = any(f["cause"] == "label_noise" and f["evidence"] and
                          f["evidence"][0].startswith("models fitted to the validation labels")
                          for f in report.get("findings", []))
            row = {"key": key, "zoo": zoo_name,
                   "cases": [os.path.basename(p)[:-len(".yaml")] for p in paths],
                   "note": note, "finding": finding}
            with open(args.out, "a") as fh:
                fh.write(json.dumps(row) + "\n")
            z = re.search(r"z (-?[0-9.]+)", note)
            print(f"{zoo_name} {row['cases'][0]} (+{len(paths) - 1}): "
                  f"z {z.group(1) if z else '-'}{' FLAGGED' if finding else ''}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
