"""The printed table (metric x load x policy x mode: simulated, real, signed
% error, the executor's noise) and validation.json, with the goals checked:
|mean E2E error| <= 3% and |p99 E2E error| <= 8% at every load.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

GOALS = {"e2e_mean": 3.0, "e2e_p99": 8.0}  # |signed %| the issue asks for
TABLE_METRICS = ("ttft_mean", "ttft_p50", "ttft_p99", "tpot_mean", "tpot_p50", "tpot_p99",
                 "e2e_mean", "e2e_p50", "e2e_p99", "skipped_fraction", "agreement")


def goals(result: dict) -> list[dict]:
    out = []
    for row in result["rows"]:
        for metric, limit in GOALS.items():
            err = row["request"][metric]["err_pct"]
            out.append({"policy": row["policy"], "load": row["load"], "mode": row["mode"],
                        "metric": metric, "err_pct": err, "goal_pct": limit,
                        "met": bool(math.isfinite(err) and abs(err) <= limit),
                        "noise_pct": row["noise"][metric]})
    return out


def format_table(result: dict) -> str:
    lines = [f"skipsim validate: {result['config']['model']} on {result['config']['trace']} "
             f"({result['config']['num_prompts']} requests), capacity "
             + ", ".join(f"{p} {c:.3g} req/s" for p, c in result["capacity_req_per_s"].items()),
             "latencies in s; error = 100 (sim - real) / real; skip rows in points; "
             "noise = the executor's run-to-run spread",
             f"{'policy':<14}{'load':>5} {'mode':<9}{'metric':<17}{'simulated':>11}{'real':>11}"
             f"{'error %':>9}{'noise %':>9}"]
    for row in result["rows"]:
        for m in TABLE_METRICS:
            r = row["request"][m]
            lines.append(f"{row['policy']:<14}{row['load']:>5.2f} {row['mode']:<9}{m:<17}"
                         f"{r['sim']:>11.4g}{r['real']:>11.4g}{r['err_pct']:>+9.2f}"
                         f"{row['noise'][m]:>9.2f}")
        s = row["step"]["all"]
        lines.append(f"{row['policy']:<14}{row['load']:>5.2f} {row['mode']:<9}"
                     f"{'step APE':<17}median {s['median_ape']:.1f}%, p90 {s['p90_ape']:.1f}% "
                     f"over {s['n']} steps; priced total {s['total_signed_pct']:+.1f}%")
    met = goals(result)
    lines.append(f"goals (|mean E2E| <= {GOALS['e2e_mean']:g}%, |p99 E2E| <= "
                 f"{GOALS['e2e_p99']:g}%): {sum(g['met'] for g in met)} of {len(met)} met")
    for g in met:
        if not g["met"]:
            lines.append(f"  missed: {g['policy']} load {g['load']:g} {g['mode']} {g['metric']} "
                         f"{g['err_pct']:+.2f}% (goal {g['goal_pct']:g}%, noise "
                         f"{g['noise_pct']:.2f}%)")
    return "\n".join(lines)


def write_json(result: dict, path: Path) -> Path:
    slim = {**result, "goals": goals(result),
            "rows": [{k: v for k, v in row.items() if k not in ("cdf", "steps_plot")}
                     for row in result["rows"]]}
    path.write_text(json.dumps(slim, indent=2, default=_plain))
    return path


def _plain(x):
    if hasattr(x, "tolist"):
        return x.tolist()
    return str(x)
