"""`simulate sweep SPEC --out DIR`: run every point of a sweep spec on a
local process pool (default) or Ray, into one Parquet table.

    simulate sweep reports/specs/memory-split.toml --out sweeps/memsplit
    simulate sweep reports/specs/policies-by-load.toml --ray --out sweeps/load

Rerunning into the same folder resumes: finished points are skipped.
"""

from __future__ import annotations

import os
import sys


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def add_arguments(parser) -> None:
    parser.add_argument("spec", metavar="SPEC", help="a sweep spec (TOML; see reports/specs/)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="sweep folder: results.parquet, spec.json, points/<key>/")
    parser.add_argument("--workers", type=int, default=None,
                        help=f"worker processes (default: the cores, {default_workers()} here)")
    parser.add_argument("--ray", action="store_true", help="run the points as Ray tasks "
                        "(a local Ray, or the cluster at --ray-address)")
    parser.add_argument("--ray-address", default=None, metavar="HOST:PORT",
                        help="join this Ray cluster (implies --ray)")
    parser.add_argument("--serial", action="store_true",
                        help="run every point in this process (no workers)")
    parser.add_argument("--points", type=int, default=None, metavar="N",
                        help="run only the first N points")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args) -> int:
    from reports.backends import make_backend
    from reports.spec import SweepSpec
    from reports.sweep import run_sweep
    from skipsim.errors import UserError

    if args.serial and (args.ray or args.ray_address):
        raise UserError("--serial and --ray exclude each other")
    name = "ray" if args.ray or args.ray_address else "serial" if args.serial else "pool"
    backend = make_backend(name, args.workers or default_workers(), args.ray_address)
    spec = SweepSpec.load(args.spec)
    print(f"sweep {spec.title!r}: {len(spec.points())} points on {backend.describe()}",
          file=sys.stderr)
    outcome = run_sweep(spec, args.out, backend, progress=not args.no_progress,
                        point_ids=None if args.points is None else range(args.points))
    print(f"{outcome.ran} point(s) run, {outcome.skipped} already finished, "
          f"{outcome.failed} failed; wrote {outcome.table}", file=sys.stderr)
    return 0
