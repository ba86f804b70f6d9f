"""The three levels of error, and the executor's own run-to-run noise.

- step: each real step's measured time against the cost model's price of
  the same batch (steps.parquet sums its pieces per step): median and p90
  of the absolute percentage error, overall and per kind of work;
- request: TTFT, TPOT, E2E (mean, p50, p99) of the simulated run against the
  real one, signed % error = 100 (sim - real) / real, so + means the
  simulator is pessimistic; the records are joined on request_id first;
- skip: skipped fraction of decode layers and agreement (the simulator's
  expected, the executor's measured).

Noise: the same statistics of two executor runs of one trace, 100 |b - a| / a.
"""

from __future__ import annotations

import numpy as np

from skipsim.errors import UserError

LATENCIES = ("ttft_s", "tpot_s", "e2e_s")
STATS = ("mean", "p50", "p99")


def signed_pct(sim: float, real: float) -> float:
    if not np.isfinite(real) or real == 0:
        return float("nan")
    return float(100.0 * (sim - real) / real)


def request_stats(records: dict) -> dict:
    """{metric: {mean, p50, p99}} plus skip figures, from records (either side)."""
    out = {}
    for m in LATENCIES:
        v = np.asarray(records[m], float)
        v = v[np.isfinite(v)]
        out[m] = ({"mean": float(v.mean()), "p50": float(np.percentile(v, 50)),
                   "p99": float(np.percentile(v, 99))} if len(v) else
                  dict.fromkeys(STATS, float("nan")))
    executed = float(np.sum(records["layers_executed"]))
    skipped = float(np.sum(records["layers_skipped"]))
    out["skipped_fraction"] = skipped / (executed + skipped) if executed + skipped else 0.0
    w = np.asarray(records["output_tokens"], float)
    out["agreement"] = float(np.sum(np.asarray(records["expected_agreement"]) * w) / w.sum())
    return out


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


def step_errors(steps) -> dict:
    """APE of the cost model's price against each real step's time."""
    per_step = steps.groupby("step").agg(real_s=("duration_s", "sum"),
                                         price_s=("cost_model_s", "sum"))
    out = {"all": _ape(per_step["price_s"].to_numpy(), per_step["real_s"].to_numpy())}
    for kind, part in steps.groupby("kind"):
        out[kind] = _ape(part["cost_model_s"].to_numpy(), part["duration_s"].to_numpy())
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
