"""`simulate validate --quick` from cold: its wall and CPU time against the
issue's target (under 15 minutes on this CPU), and where the time goes.

Runs `simulate validate --quick` as a child process with an empty run cache
(every executor run is made), and with --cold-calibration also an empty
calibration cache (the live router's banks are recorded and labelled again):
a temporary SKIPSIM_CACHE whose models/, sharegpt/ and executor/ are links
to the shared cache (converted weights, token counts and reference tokens
are set-up, not validation), so nothing shared is deleted or rewritten.

Prints the wall time, the child's CPU time, the router set-up time (the
first deepest-first run's set-up), the executor runs' makespans, the
remainder (simulator runs, fitting, page), and validate's summary table.

    .venv/bin/python benchmarks/bench_validate_quick.py [--cold-calibration] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

TARGET_S = 15 * 60
SHARED = ("models", "sharegpt", "executor")  # set-up caches, linked, never written here


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cold-calibration", action="store_true",
                    help="an empty calibration cache too (the router's banks are recorded)")
    ap.add_argument("--keep", default=None, help="keep the run folders here (default: a temp dir)")
    args = ap.parse_args()
    shared = Path(os.environ.get("SKIPSIM_CACHE") or Path.home() / ".cache" / "skipsim")
    work = Path(args.keep or tempfile.mkdtemp(prefix="bench-validate-"))
    env = dict(os.environ)
    if args.cold_calibration:
        root = work / "cache"
        root.mkdir(parents=True, exist_ok=True)
        for name in SHARED:
            if (shared / name).exists() and not (root / name).exists():
                (root / name).symlink_to(shared / name)
        env["SKIPSIM_CACHE"] = str(root)
    simulate = Path(sys.executable).with_name("simulate")
    cmd = [str(simulate), "validate", "--quick", "--no-progress", "--cache",
           str(work / "validate"), "--out", str(work / "out")]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        print(done.stderr[-2000:], file=sys.stderr)
        return done.returncode
    runs = sorted((work / "validate" / "runs").glob("*/config.json"))
    makespans, setups = [], []
    for path in runs:
        config = json.loads(path.read_text())
        setups.append(config["setup_wall_s"])
        records = pd.read_csv(path.parent / "requests.csv")
        makespans.append(float(records["finish_time_s"].max() - records["arrival_time_s"].min()))
    print(f"simulate validate --quick{' (cold calibration)' if args.cold_calibration else ''}: "
          f"wall {wall:.0f} s (target {TARGET_S} s: {'met' if wall < TARGET_S else 'MISSED'}), "
          f"CPU {usage.ru_utime + usage.ru_stime:.0f} s, load average "
          f"{os.getloadavg()[0]:.1f} at the end")
    print(f"  {len(runs)} executor runs: makespans {sum(makespans):.0f} s, set-ups "
          f"{sum(setups):.0f} s (largest {max(setups):.0f} s: the live router's banks)")
    print(f"  the rest (start, trace, simulator runs, refit, page): "
          f"{wall - sum(makespans) - sum(setups):.0f} s")
    for line in done.stderr.splitlines():
        if "record+label calibration:" in line and "computed" in line:
            print(f"  {line.strip()}")
            break  # one per executor run: the same line
    summary = done.stdout[done.stdout.find("summary ("):] if "summary (" in done.stdout else ""
    print(f"\n{summary.rstrip()}\n(the full table: {work / 'out' / 'validation.json'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
