#!/usr/bin/env python3
"""Runs the ctest tests of some labels, as many as fit before a deadline, and says which it left out.

    scripts/run-while-time-allows.py --build build --deadline EPOCH_S [--pace FILE] [--dry-run]
                                     LABEL [LABEL ...]

.ci/run calls it after the README's test command for the tiers that command leaves out (label
`extended`, then `zoo_regression`). Tests are taken label by label, in ctest's order within a
label, each one whose expected time still ends before the deadline: a test's
expected wall time is its COST property (seconds on an idle 2-core machine, set in CMake) times
its PROCESSORS over the cores here, with a 25% margin; a test without a COST counts 120 s. A test
that does not fit is skipped and named, and a shorter one after it may still be taken. The
chosen tests run in one `ctest -j NPROC` call; the exit status is
ctest's (0 when nothing was chosen). --dry-run prints the plan and runs nothing.

--pace FILE calibrates the COSTs to the machine at hand: after the run it writes there how much
longer the chosen tests took than their COSTs said (wall time over the planned time without the
margin, or over the longest chosen test's COST when that is longer), and a later call with the same
FILE plans with that factor (when it is above 1) times the margin. A CI machine slower than the one
the COSTs were measured on (session 29's CI ran its last tier ~3 min past the deadline) then takes
fewer tests instead of running late.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

DEFAULT_COST_S = 120.0
MARGIN = 1.25


def tests_of(build, label):
    listing = subprocess.run(
        ["ctest", "--test-dir", build, "--show-only=json-v1", "-L", label],
        check=True, capture_output=True, text=True).stdout
    out = []
    for test in json.loads(listing).get("tests", []):
        props = {p["name"]: p["value"] for p in test.get("properties", [])}
        if label not in props.get("LABELS", []):
            continue  # -L is a regular expression; keep exact label matches only
        out.append((test["name"], float(props.get("COST", DEFAULT_COST_S)),
                    int(props.get("PROCESSORS", 1))))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--deadline", type=float, required=True, help="seconds since the epoch")
    ap.add_argument("--pace", help="file to read/write the measured time over COST factor")
    ap.add_argument("--dry-run", action="store_true", help="print the plan, run nothing")
    ap.add_argument("labels", nargs="+")
    a = ap.parse_args()
    cores = os.cpu_count() or 1
    left = a.deadline - time.time()
    pace = read_pace(a.pace)
    if pace > 1:
        print(f"ci: tests ran {pace:.2f}x their COST earlier; planning with that", flush=True)
    scale = MARGIN * max(pace, 1.0)  # planned seconds per second of COST
    chosen, planned, longest = [], 0.0, 0.0
    for label in a.labels:
        skipped = []
        for name, cost, procs in tests_of(a.build, label):
            need = cost * min(procs, cores) / cores * scale
            if planned + need > left:
                skipped.append(f"{name} (~{need:.0f} s)")
                continue
            chosen.append(name)
            planned += need
            longest = max(longest, cost)
        if skipped:
            print(f"ci: {len(skipped)} {label} test(s) skipped, too long for the "
                  f"{left - planned:.0f} s left of the deadline: {', '.join(skipped)}", flush=True)
    if not chosen:
        return 0
    print(f"ci: running {len(chosen)} test(s) of {', '.join(a.labels)} (~{planned:.0f} s planned, "
          f"{left:.0f} s left): {', '.join(chosen)}", flush=True)
    if a.dry_run:
        return 0
    pattern = "^(" + "|".join(re.escape(n) for n in chosen) + ")$"
    started = time.time()
    code = subprocess.run(["ctest", "--test-dir", a.build, "-j", str(cores), "--output-on-failure",
                           "--timeout", "900", "-R", pattern]).returncode
    if a.pace:
        # What the COSTs promise on an idle machine like ours: the plan without its margin, but
        # never less than the longest test (two unequal tests on two cores do not pack evenly).
        promised = max(planned / scale, longest)
        write_pace(a.pace, (time.time() - started) / promised if promised > 0 else 1.0)
    return code


def read_pace(path):
    """The factor an earlier call measured (1 when there is none or it cannot be read)."""
    try:
        with open(path) as f:
            return float(json.load(f)["pace"])
    except (TypeError, OSError, ValueError, KeyError):
        return 1.0


def write_pace(path, pace):
    with open(path + ".tmp", "w") as f:
        json.dump({"pace": round(pace, 3)}, f)
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    sys.exit(main())
