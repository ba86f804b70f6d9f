"""The three levels of error, and the executor's own run-to-run noise.

- step: each real step's measured wall time against the cost model's price
  of the same batch (its pieces plus the per-step overhead): median and p90
  of the absolute percentage error, overall, per kind of work, and of the
  overhead alone (a step's wall time less its pieces);
- request: TTFT, TPOT, E2E (mean, p50, p99) of the simulated run against the
  real one, signed % error = 100 (sim - real) / real, so + means the
  simulator is pessimistic; the records are joined on request_id first;
- skip: skipped fraction of decode layers and agreement (the simulator's
  expected, the executor's measured).

Noise: the same statistics of two executor runs of one trace, 100 |b - a| / a.
"""

from __future__ import annotations

import numpy as np

from executor.step_log import STEP
from skipsim.errors import UserError

LATENCIES = ("ttft_s", "tpot_s", "e2e_s")
STATS = ("mean", "p50", "p99")


def signed_pct(sim: float, real: float) -> float:
    if not np.isfinite(real) or real == 0:
        return float("nan")
    return float(100.0 * (sim - real) / real)


def request_stats(records: dict) -> dict:
    """{metric: {mean, p50, p99, ...}} plus skip figures, from records (either
    side): the simulator's own per-request summary."""
    from simulator.metrics import request_summary

    s = request_summary(records)
    return {**{m: s[m] for m in LATENCIES}, "skipped_fraction": s["skipped_layer_fraction"],
            "agreement": s["expected_agreement"]}


def join(sim: dict, real: dict) -> dict:
    """Per-request signed E2E error (%) after the join on request_id; refuses
    records whose ids do not match one to one."""
    s_ids, r_ids = np.asarray(sim["request_id"]), np.asarray(real["request_id"])
    if len(s_ids) != len(r_ids) or set(s_ids.tolist()) != set(r_ids.tolist()):
        raise UserError(f"mismatched records: the simulator finished {len(s_ids)} requests, "
                        f"the executor {len(r_ids)} (or other request ids)")
    si, ri = np.argsort(s_ids), np.argsort(r_ids)
    e2e_sim = np.asarray(sim["e2e_s"], float)[si]
    e2e_real = np.asarray(real["e2e_s"], float)[ri]
    err = 100.0 * (e2e_sim - e2e_real) / e2e_real
    return {"request_id": s_ids[si].tolist(), "e2e_sim_s": e2e_sim.tolist(),
            "e2e_real_s": e2e_real.tolist(), "e2e_signed_pct": err.tolist(),
            "e2e_per_request_median_abs_pct": float(np.median(np.abs(err)))}


def request_errors(sim: dict, real: dict) -> dict:
    """{metric/stat: {sim, real, err_pct}} for latencies, {sim, real, diff} for skip."""
    a, b = request_stats(sim), request_stats(real)
    rows = {}
    for m in LATENCIES:
        for s in STATS:
            rows[f"{m[:-2]}_{s}"] = {"sim": a[m][s], "real": b[m][s],
                                     "err_pct": signed_pct(a[m][s], b[m][s])}
    for m in ("skipped_fraction", "agreement"):
        rows[m] = {"sim": a[m], "real": b[m], "err_pct": 100.0 * (a[m] - b[m])}  # points
    return rows


def noise(first: dict, second: dict) -> dict:
    """Run-to-run spread of the executor, per row of `request_errors` (%)."""
    a, b = request_stats(first), request_stats(second)
    out = {}
    for m in LATENCIES:
        for s in STATS:
            out[f"{m[:-2]}_{s}"] = abs(signed_pct(b[m][s], a[m][s]))
    for m in ("skipped_fraction", "agreement"):
        out[m] = abs(100.0 * (b[m] - a[m]))
    return out


def per_step(steps):
    """One row per step: real_s (its wall time: the `step` row, or the sum of
    its pieces in a log without one), price_s (the prices of its rows, the
    per-step overhead included) and pieces_s (the pieces' measured sum)."""
    whole = steps["kind"] == STEP
    pieces = steps[~whole].groupby("step")["duration_s"].sum()
    out = steps.groupby("step").agg(price_s=("cost_model_s", "sum"))
    out["pieces_s"] = pieces.reindex(out.index, fill_value=0.0)
    wall = steps[whole].set_index("step")["duration_s"]
    out["real_s"] = wall.reindex(out.index).fillna(out["pieces_s"])
    return out


def step_errors(steps) -> dict:
    """APE of the cost model's price against each real step's time, overall,
    per kind of piece, and of the per-step overhead (the step's wall time
    less its pieces, against the price of its `step` row)."""
    steps_ = per_step(steps)
    out = {"all": _ape(steps_["price_s"].to_numpy(), steps_["real_s"].to_numpy())}
    for kind, part in steps[steps["kind"] != STEP].groupby("kind"):
        out[kind] = _ape(part["cost_model_s"].to_numpy(), part["duration_s"].to_numpy())
    whole = steps[steps["kind"] == STEP].set_index("step")
    if len(whole):
        from profiler.from_steps import overheads

        overhead = overheads(steps, ("step",)).reindex(whole.index).to_numpy()
        out["overhead"] = _ape(whole["cost_model_s"].to_numpy(), overhead)
    return out


def _ape(price: np.ndarray, real: np.ndarray) -> dict:
    keep = real > 0
    ape = 100.0 * np.abs(price[keep] - real[keep]) / real[keep]
    signed = 100.0 * (price[keep].sum() - real[keep].sum()) / real[keep].sum() if keep.any() \
        else float("nan")
    if not len(ape):
        return {"n": 0, "median_ape": float("nan"), "p90_ape": float("nan"),
                "total_signed_pct": float("nan")}
    return {"n": int(len(ape)), "median_ape": float(np.median(ape)),
            "p90_ape": float(np.percentile(ape, 90)), "total_signed_pct": float(signed)}
