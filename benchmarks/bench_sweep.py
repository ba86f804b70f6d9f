"""Sweep throughput: the policies-by-load spec (40 points of 1,000 ShareGPT
requests) run serially, on the process pool and on a local Ray, in one run.

    python benchmarks/bench_sweep.py                    # every point, 3 times over
    python benchmarks/bench_sweep.py --points 8         # 8 points spread over the spec

Prints, per backend: points, wall time, points per minute, CPU-seconds per
point (the workers' process time, summed over points: the simulation's own
cost, without pool/Ray start-up, which the wall time includes) and the
speed-up over serial. Target: the pool with 2 workers at least 1.8x the
serial rate (on 2 idle cores). Vidur-Search, the nearest peer, spends about
2 CPU-minutes per point. Every backend must produce the same table (checked).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "reports" / "specs" / "policies-by-load.toml"


def spread(n_total: int, n: int | None) -> list[int]:
    """`n` point ids evenly spread over the spec (all when n is None)."""
    if n is None or n >= n_total:
        return list(range(n_total))
    return sorted({int(round(i)) for i in np.linspace(0, n_total - 1, n)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default=str(SPEC))
    parser.add_argument("--points", type=int, default=None, metavar="N",
                        help="run N points spread evenly over the spec (default: all)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--backends", default="serial,pool,ray")
    parser.add_argument("--keep", default=None, metavar="DIR",
                        help="keep each backend's sweep folder under DIR")
    args = parser.parse_args()
    os.chdir(ROOT)  # the spec's relative paths are the repository's

    from reports.backends import make_backend
    from reports.spec import SweepSpec
    from reports.sweep import run_sweep
    from reports.table import read_table
    from reports.worker import TIMING_COLUMNS

    spec = SweepSpec.load(args.spec)
    ids = spread(len(spec.points()), args.points)
    print(f"spec {args.spec}: {len(ids)} of {len(spec.points())} points; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    base = Path(args.keep or tempfile.mkdtemp(prefix="bench-sweep-"))
    results, tables = {}, {}
    for name in args.backends.split(","):
        workers = 1 if name == "serial" else args.workers
        out = base / name
        t0 = time.perf_counter()
        outcome = run_sweep(spec, out, make_backend(name, workers), progress=False, point_ids=ids)
        wall = time.perf_counter() - t0
        table = read_table(out)
        assert outcome.skipped == 0, f"{out} held results: use an empty --keep folder"
        tables[name] = table.drop(columns=list(TIMING_COLUMNS))
        results[name] = (len(table), wall, float(table["cpu_s"].sum()), outcome.failed)
        n, _, cpu, failed = results[name]
        print(f"{name:>6} ({workers} worker{'s' if workers > 1 else ''}): {n} points in "
              f"{wall:7.1f} s = {60 * n / wall:6.2f} points/min, {cpu / n:6.1f} CPU-s/point"
              f"{f', {failed} failed' if failed else ''}; load average "
              f"{os.getloadavg()[0]:.1f}", flush=True)
    if "serial" in results:
        n, wall, _, _ = results["serial"]
        for name, (m, w, _, _) in results.items():
            if name != "serial":
                print(f"{name} speed-up over serial: {(m / w) / (n / wall):.2f}x "
                      f"(target for pool with 2 workers: 1.8x)")
    first = next(iter(tables.values()))
    same = all(t.equals(first) for t in tables.values())
    print(f"identical tables across backends: {same}")


if __name__ == "__main__":
    main()
