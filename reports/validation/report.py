"""The printed table (metric x load x policy x mode: simulated, real, signed
% error, the executor's noise) and validation.json, with the goals checked:
|mean E2E error| <= 3% and |p99 E2E error| <= 8% at every load. Beside each
point: the machine's speed during its scored run and its repeat, against
when the profile was measured (`protocol.machine_speed`; 0.80 = work took
1.25x as long), so a miss the machine explains can be told from the model's.
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
                        "cost": row.get("cost", "profile"), "metric": metric, "err_pct": err,
                        "goal_pct": limit, "met": bool(math.isfinite(err) and abs(err) <= limit),
                        "noise_pct": row["noise"][metric]})
    return out


def _key(row: dict) -> str:
    return (f"{row['policy']:<14}{row['load']:>5.2f} {row['mode']:<9}"
            f"{row.get('cost', 'profile'):<8}")


def format_table(result: dict) -> str:
    cfg = result["config"]
    lines = [f"skipsim validate: {cfg['model']} on {cfg['trace']} "
             f"({cfg['num_prompts']} requests), capacity "
             + ", ".join(f"{p} {c:.3g} req/s" for p, c in result["capacity_req_per_s"].items()),
             "latencies in s; error = 100 (sim - real) / real; skip rows in points; "
             "noise = the executor's run-to-run spread; cost: profile = the committed "
             "profile, refit = refitted on executor steps (below)",
             f"{'policy':<14}{'load':>5} {'mode':<9}{'cost':<8}{'metric':<17}{'simulated':>11}"
             f"{'real':>11}{'error %':>9}{'noise %':>9}"]
    for row in result["rows"]:
        for m in TABLE_METRICS:
            r = row["request"][m]
            lines.append(f"{_key(row)}{m:<17}{r['sim']:>11.4g}{r['real']:>11.4g}"
                         f"{r['err_pct']:>+9.2f}{row['noise'][m]:>9.2f}")
        lines.append(f"{_key(row)}{'step APE':<17}{_step_note(row['step'])}")
        lines.append(f"{_key(row)}{'machine speed':<17}{speed_note(row.get('machine'))} "
                     "(run / repeat, against the profile's probe)")
    lines += ["", *summary_lines(result)]
    return "\n".join(lines)


def _step_note(step: dict) -> str:
    s = step["all"]
    text = (f"median {s['median_ape']:.1f}%, p90 {s['p90_ape']:.1f}% over {s['n']} steps; "
            f"priced total {s['total_signed_pct']:+.1f}%")
    kinds = [f"{k} {v['total_signed_pct']:+.0f}%" for k, v in step.items()
             if k != "all" and v["n"]]
    return text + (f" ({', '.join(kinds)})" if kinds else "")


def summary_lines(result: dict) -> list[str]:
    """The table the issue asks for: E2E mean and p99 error beside the noise,
    per policy, load, mode and cost model, and the goals checked."""
    lines = ["summary (signed % error, the executor's noise in brackets):",
             f"{'policy':<14}{'load':>5} {'mode':<9}{'cost':<8}{'E2E mean':>18}{'E2E p99':>18}"
             f"{'TTFT mean':>11}{'TPOT mean':>11}{'step APE p50/p90':>18}"
             f"  {'machine speed run/repeat':<24}"]
    for row in result["rows"]:
        r, n, s = row["request"], row["noise"], row["step"]["all"]
        lines.append(f"{_key(row)}{r['e2e_mean']['err_pct']:>+9.1f} ({n['e2e_mean']:5.1f})"
                     f"{r['e2e_p99']['err_pct']:>+9.1f} ({n['e2e_p99']:5.1f})"
                     f"{r['ttft_mean']['err_pct']:>+11.1f}{r['tpot_mean']['err_pct']:>+11.1f}"
                     f"{s['median_ape']:>10.1f} / {s['p90_ape']:<5.1f}"
                     f"  {speed_note(row.get('machine'))}")
    lines.append("machine speed: the speed probe (profiler.speed_probe) around each run "
                 "against the profile's, reference / run (< 1: slower than when the profile "
                 "was measured); reported, not applied")
    fit = result.get("fit")
    if fit:
        scored = result["config"].get("scored_loads") or ()
        lines.append(f"refit: fit on {fit['on']}, scored only on "
                     + (f"load{'s' if len(scored) > 1 else ''} "
                        f"{', '.join(f'{x:g}' for x in scored)}" if scored else "the other loads")
                     + f" (step overhead {fit['step_overhead_s'] * 1e3:.2f} ms; {fit['path']})")
    met = goals(result)
    lines.append(f"goals (|mean E2E| <= {GOALS['e2e_mean']:g}%, |p99 E2E| <= "
                 f"{GOALS['e2e_p99']:g}%): {sum(g['met'] for g in met)} of {len(met)} met")
    for g in met:
        if not g["met"]:
            lines.append(f"  missed: {g['policy']} load {g['load']:g} {g['mode']} {g['cost']} "
                         f"{g['metric']} {g['err_pct']:+.2f}% (goal {g['goal_pct']:g}%, noise "
                         f"{g['noise_pct']:.2f}%)")
    return lines


def speed_note(machine: dict | None) -> str:
    """'0.82 / 0.79', or why there is no figure."""
    if not machine or not machine.get("probe_s"):
        return "no probe"
    if machine.get("reference_s") is None:
        return "no reference"
    fmt = lambda x: "-" if x is None else f"{x:.2f}"  # noqa: E731
    return f"{fmt(machine['relative'])} / {fmt(machine['repeat_relative'])}"


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
