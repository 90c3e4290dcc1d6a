#!/usr/bin/env python3
"""Diagnoses zoo case files with a given CLI and keeps every report, for side-by-side comparisons
of two CLIs on chosen cases (lossdoctor-bench zoo scores but deletes its reports).

    python3 bench/zoo/diagnose_cases.py --cli FROZEN_CLI --out DIR [--lanes 2] [--seed 0] \\
        [--extra=--no-confirm] CASE.yaml[:SEED] ...

Each case runs as `CLI --threads 1 diagnose CASE --set seed=SEED --json OUT --quiet` in the
case's folder (as lossdoctor-bench zoo runs it), `--lanes` at a time; a case whose header says
`# nproc: N` (a data-parallel case) gets `--nproc N`, as lossdoctor-bench zoo gives it. Reports
are written to DIR/<zoo>__<case>__<seed>.json; one that exists is not run again (a stopped run
resumes). A run that ends with an exit status other than 0 or 1 leaves its output in
<report>.err. `--extra` adds arguments to every diagnose command (split on spaces; write it as
`--extra=--no-confirm` so the option parser takes the value), e.g. a survey of the unconfirmed
suspicions.
"""
import argparse
import concurrent.futures
import os
import re
import subprocess


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cli", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--lanes", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0, help="for cases given without :SEED")
    ap.add_argument("--extra", default="", help="more diagnose arguments, e.g. --extra=--no-confirm")
    ap.add_argument("cases", nargs="+")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    cli = os.path.abspath(a.cli)

    def one(item):
        path, sep, seed = item.rpartition(":")
        if not sep or not seed.isdigit():
            path, seed = item, str(a.seed)
        path = os.path.abspath(path)
        zoo = os.path.basename(os.path.dirname(os.path.dirname(path)))
        report = os.path.join(a.out, f"{zoo}__{os.path.basename(path)[:-5]}__{seed}.json")
        if os.path.exists(report):
            return
        with open(path) as f:
            nproc = re.search(r"^# nproc: *([0-9]+)", f.read(), re.M)
        cmd = [cli, "--threads", "1", "diagnose", os.path.basename(path), "--set", f"seed={seed}",
               "--json", report, "--quiet"]
        if nproc:
            cmd += ["--nproc", nproc.group(1)]
        cmd += a.extra.split()
        r = subprocess.run(cmd, cwd=os.path.dirname(path), capture_output=True, text=True)
        if r.returncode not in (0, 1):
            with open(report + ".err", "w") as f:
                f.write(r.stdout + r.stderr)
        print(f"{os.path.basename(report)}: exit {r.returncode}", flush=True)

    with concurrent.futures.ThreadPoolExecutor(a.lanes) as ex:
        list(ex.map(one, a.cases))


if __name__ == "__main__":
    main()
