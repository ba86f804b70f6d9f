"""Run-level metrics from the per-request records (DESIGN.md's list).

Latencies: TTFT, TPOT, E2E (mean, p50, p90, p99, std), throughput in
requests/s and tokens/s over the makespan (first arrival to last token),
goodput = requests/s meeting every given SLO (vLLM bench's definition),
GPU busy fraction, layers executed per decode token and the skipped
fraction, lookups per decode token and their time, KV utilisation
(time-weighted mean and peak) and preemptions, and the expected agreement:
the mean over all output tokens of P(token = full model's token), each
token's probability being the product of (1 - p_change) over its hits.

Inter-token latency (ITL, vLLM bench's per-gap statistic): the simulator
records each request's first and last token times, not every token's, so
each of a request's (output - 1) gaps is taken as its TPOT. The ITL
distribution is therefore the TPOT distribution weighted by gaps per request
(mean ITL = all decode time / all gaps; long outputs count per gap, not per
request). Requests with one output token have no gap, no TPOT and no ITL.
"""

from __future__ import annotations

import numpy as np

from simulator.records import RunStats

PERCENTILES = (50, 90, 99)


def _stats(values: np.ndarray) -> dict:
    v = np.asarray(values, float)
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return {"mean": float("nan"), "std": float("nan"),
                **{f"p{p}": float("nan") for p in PERCENTILES}}
    return {"mean": float(v.mean()), "std": float(v.std()),
            **{f"p{p}": float(np.percentile(v, p)) for p in PERCENTILES}}


def _weighted_stats(values: np.ndarray, weights: np.ndarray) -> dict:
    """`_stats` of `values` with value i repeated weights[i] times (exactly the
    same numbers, numpy's linear percentiles, without building the repeats)."""
    v, w = np.asarray(values, float), np.asarray(weights, np.int64)
    keep = ~np.isnan(v) & (w > 0)
    v, w = v[keep], w[keep]
    if not len(v):
        return _stats(v)
    order = np.argsort(v, kind="stable")
    v, w = v[order], w[order]
    ends = np.cumsum(w)  # repeated position i holds v[searchsorted(ends, i, 'right')]
    n = int(ends[-1])
    mean = float(np.dot(v, w) / n)

    def at(i):
        return v[np.searchsorted(ends, i, side="right")]

    def pct(p):
        pos = p / 100 * (n - 1)
        lo = int(np.floor(pos))
        hi = min(lo + 1, n - 1)
        return float(at(lo) + (pos - lo) * (at(hi) - at(lo)))

    return {"mean": mean, "std": float(np.sqrt(np.dot(w, (v - mean) ** 2) / n)),
            **{f"p{p}": pct(p) for p in PERCENTILES}}


def request_summary(records: dict) -> dict:
    """The per-request part of `summarize`, from the records alone (either
    side of `simulate validate`): TTFT, TPOT, E2E statistics, the skipped
    fraction of layers and the expected agreement (weighted by output tokens)."""
    r = records
    executed, skipped = int(np.sum(r["layers_executed"])), int(np.sum(r["layers_skipped"]))
    out_tokens = int(np.sum(r["output_tokens"]))
    return {"ttft_s": _stats(r["ttft_s"]), "tpot_s": _stats(r["tpot_s"]),
            "e2e_s": _stats(r["e2e_s"]),
            "skipped_layer_fraction": skipped / (executed + skipped) if executed + skipped
            else 0.0,
            "expected_agreement": float(np.sum(np.asarray(r["expected_agreement"])
                                               * r["output_tokens"])) / out_tokens}


def summarize(records: dict, stats: RunStats, num_layers: int, slo_ttft_s: float | None = None,
              slo_tpot_s: float | None = None, slo_e2el_s: float | None = None) -> dict:
    """The summary of a run from its records (`RECORD_COLUMNS`) and `RunStats`;
    goodput and SLO attainment when any SLO (seconds) is given."""
    r = records
    duration = float(np.max(r["finish_time_s"]) - np.min(r["arrival_time_s"]))
    out_tokens = int(r["output_tokens"].sum())
    in_tokens = int(r["prompt_tokens"].sum())
    decode_tokens = int((r["output_tokens"] - 1).sum())
    executed = int(r["layers_executed"].sum())
    lookups = int(r["lookups"].sum())
    per_request = request_summary(r)
    s = {
        "completed": int(len(r["request_id"])),
        "duration_s": duration,
        "total_input_tokens": in_tokens,
        "total_output_tokens": out_tokens,
        "request_throughput_per_s": len(r["request_id"]) / duration,
        "output_throughput_tok_per_s": out_tokens / duration,
        "total_token_throughput_tok_per_s": (in_tokens + out_tokens) / duration,
        "ttft_s": per_request["ttft_s"],
        "tpot_s": per_request["tpot_s"],
        "e2e_s": per_request["e2e_s"],
        "itl_s": _weighted_stats(r["tpot_s"], r["output_tokens"] - 1),
        "gpu_busy_fraction": float(np.mean(stats.busy_s) / duration),
        "layers_per_decode_token": executed / decode_tokens if decode_tokens else float("nan"),
        "skipped_layer_fraction": per_request["skipped_layer_fraction"],
        "exits_per_decode_token": int(r["exits"].sum()) / decode_tokens if decode_tokens else 0.0,
        "lookups_per_decode_token": lookups / decode_tokens if decode_tokens else 0.0,
        "lookup_busy_s": float(stats.lookup_busy_s),
        # in-line lookups add up over the devices, host lookups queue on one CPU
        "lookup_busy_fraction": float(stats.lookup_busy_s / duration / stats.lookup_servers),
        "kv_utilisation_mean": stats.kv_utilisation_mean,
        "kv_utilisation_peak": stats.kv_utilisation_peak,
        "preemptions": int(r["preemptions"].sum()),
        "expected_agreement": per_request["expected_agreement"],
        "steps": int(stats.steps),
        "token_block_executions": int(stats.token_block_executions),
        "num_layers": num_layers,
        "steps_outside_profiled_grid": int(stats.steps_outside_grid),
    }
    slos = {"ttft_s": slo_ttft_s, "tpot_s": slo_tpot_s, "e2e_s": slo_e2el_s}
    if any(v is not None for v in slos.values()):
        ok = np.ones(len(r["request_id"]), bool)
        for key, limit in slos.items():
            if limit is not None:
                ok &= ~(np.nan_to_num(r[key], nan=0.0) > limit)
        s["goodput_per_s"] = float(ok.sum() / duration)
        s["slo_attainment"] = float(ok.mean())
    return s
