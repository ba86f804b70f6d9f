"""One sweep point in a worker: options in, one flat table row out.

The row holds the point's id, key and options, its resolved configuration
(`cfg.*`, `trace.*`), the request rate it ran at, every summary metric
(nested ones flattened as `ttft_s.p50`), the labels of its cost and skip
models (`label.*`), the command that reproduces it, its wall and CPU time,
and `error`: empty, or the one-line reason the point failed (the sweep goes
on). The per-request records go to `points/<key>/` beside the table, so the
report can draw latency CDFs.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from dataclasses import asdict
from pathlib import Path

from skipsim.errors import UserError

POINTS_DIR = "points"
TIMING_COLUMNS = ("wall_s", "cpu_s")  # the only columns that differ between reruns


def run_point_row(task: tuple) -> dict:
    """`task` = (point_id, key, options, axes, sweep_dir, cwd): picklable, so
    the same function runs in-process, on a process pool or as a Ray task.
    Relative paths in the options (profiles, traces) are the sweep caller's:
    a worker that starts elsewhere (Ray's) moves to its folder first."""
    point_id, key, options, axes, sweep_dir, cwd = task
    if os.getcwd() != cwd:
        os.chdir(cwd)
    from reports.options import command

    row = {"point_id": point_id, "key": key, "options": json.dumps(options, sort_keys=True),
           **{f"axis.{k}": v for k, v in axes.items()}}
    wall0, cpu0 = time.perf_counter(), time.process_time()
    try:
        row.update(_simulate(options, Path(sweep_dir) / POINTS_DIR / key))
        row["error"] = ""
    except UserError as err:
        row["error"] = str(err)
    except Exception as err:  # a bug in one point must not stop the sweep; keep its reason
        last = traceback.extract_tb(err.__traceback__)[-1]
        row["error"] = f"{type(err).__name__}: {err} ({Path(last.filename).name}:{last.lineno})"
    row["command"] = command(options, row.get("request_rate_per_s"))
    row["wall_s"] = time.perf_counter() - wall0
    row["cpu_s"] = time.process_time() - cpu0
    return row


def _simulate(options: dict, out: Path) -> dict:
    from reports.options import run_spec
    from simulator.session import run_point, write_point

    spec = run_spec(options)
    point = run_point(spec)
    write_point(point, spec, out, "parquet")
    row = {f"cfg.{k}": _cell(v) for k, v in asdict(spec.sim).items()}
    row.update({f"trace.{k}": _cell(v) for k, v in asdict(spec.trace_config).items()
                if k != "request_rate_per_s"})
    row["trace.source"] = spec.trace
    row["rate_fraction"] = spec.rate_fraction
    row["request_rate_per_s"] = point.meta["request_rate_per_s"]
    row["rate_note"] = point.meta.get("rate_note", "")
    row.update({f"label.{k}": str(v) for k, v in point.labels.items()})
    row.update(_flat(point.summary))
    row.update({f"memory.{k}": _cell(v) for k, v in point.meta["memory"].items()})
    row["records"] = str(Path(POINTS_DIR) / out.name / "requests.parquet")
    return row


def _flat(summary: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in summary.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = _cell(v)
    return out


def _cell(value):
    """Parquet cells of one type per column: dicts as JSON, None kept."""
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, (list, tuple)):
        return json.dumps(list(value))
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value
