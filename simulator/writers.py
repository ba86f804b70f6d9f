"""Outputs of a run: the terminal summary table, per-request records
(CSV or Parquet), a JSON summary shaped like vLLM bench's result JSON
(its key names and millisecond units where the metrics overlap, skipsim's
own metrics beside them) and the resolved configuration."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path

from simulator.metrics import PERCENTILES
from simulator.records import record_frame

VLLM_METRICS = {"ttft": "ttft_s", "tpot": "tpot_s", "e2el": "e2e_s"}


def vllm_summary(summary: dict, labels: dict, meta: dict) -> dict:
    """vLLM benchmark_serving.py result keys (times in ms), then skipsim's extras."""
    out = {
        "date": datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S"),
        "backend": "skipsim",
        "model_id": labels["model"],
        "num_prompts": summary["completed"],
        "request_rate": meta.get("request_rate_per_s"),
        "burstiness": meta.get("burstiness"),
        "duration": summary["duration_s"],
        "completed": summary["completed"],
        "total_input_tokens": summary["total_input_tokens"],
        "total_output_tokens": summary["total_output_tokens"],
        "request_throughput": summary["request_throughput_per_s"],
        "output_throughput": summary["output_throughput_tok_per_s"],
        "total_token_throughput": summary["total_token_throughput_tok_per_s"],
    }
    if "goodput_per_s" in summary:
        out["request_goodput"] = summary["goodput_per_s"]
    for name, key in VLLM_METRICS.items():
        st = summary[key]
        out[f"mean_{name}_ms"] = st["mean"] * 1e3
        out[f"median_{name}_ms"] = st["p50"] * 1e3
        out[f"std_{name}_ms"] = st["std"] * 1e3
        for p in PERCENTILES:
            out[f"p{p}_{name}_ms"] = st[f"p{p}"] * 1e3
    out["skipsim"] = {"labels": labels, **meta, **summary}
    return _finite(out)


def _finite(obj):
    """JSON has no NaN/inf: write them as null."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def format_summary(summary: dict, labels: dict, meta: dict) -> str:
    s = summary
    lines = [
        f"skipsim run: {labels['model']}, checkpoints {labels['checkpoints']}, "
        f"policy {labels['policy']}, KV holes {labels['kv_policy']}, "
        f"lookups on {labels['lookup_placement']}",
        f"  cost model: {labels['cost_model']}",
        f"  skip model: {labels['skip_model']}",
        f"  requests {s['completed']:,} " + (
            f"at {meta['request_rate_per_s']:.3f} req/s" if meta.get("request_rate_per_s")
            is not None else "at replayed arrival times")
        + (f" ({meta['rate_note']})" if meta.get("rate_note") else ""),
        "",
        f"{'metric':<32}{'mean':>10}{'p50':>10}{'p90':>10}{'p99':>10}",
    ]
    for label, key in (("TTFT (ms)", "ttft_s"), ("TPOT (ms)", "tpot_s"), ("E2E latency (s)", "e2e_s")):
        unit = 1.0 if key == "e2e_s" else 1e3
        st = s[key]
        lines.append(f"{label:<32}" + "".join(f"{st[c] * unit:>10.3f}" for c in ("mean", "p50", "p90", "p99")))
    rows = [
        ("duration (simulated s)", f"{s['duration_s']:.2f}"),
        ("throughput (req/s)", f"{s['request_throughput_per_s']:.3f}"),
        ("output throughput (tok/s)", f"{s['output_throughput_tok_per_s']:.1f}"),
        ("total throughput (tok/s)", f"{s['total_token_throughput_tok_per_s']:.1f}"),
    ]
    if "goodput_per_s" in s:
        rows.append(("goodput (req/s)", f"{s['goodput_per_s']:.3f}  "
                                        f"({100 * s['slo_attainment']:.1f}% within SLO)"))
    rows += [
        ("GPU busy fraction", f"{s['gpu_busy_fraction']:.3f}"),
        ("layers per decode token", f"{s['layers_per_decode_token']:.2f} of {s['num_layers']}"),
        ("skipped layer fraction", f"{s['skipped_layer_fraction']:.3f}"),
        ("exits per decode token", f"{s['exits_per_decode_token']:.3f}"),
        ("lookups per decode token", f"{s['lookups_per_decode_token']:.2f}"),
        ("lookup time (busy s, frac)", f"{s['lookup_busy_s']:.2f}  ({s['lookup_busy_fraction']:.3f})"),
        ("KV utilisation mean / peak", f"{s['kv_utilisation_mean']:.3f} / {s['kv_utilisation_peak']:.3f}"),
        ("preemptions", f"{s['preemptions']}"),
        ("expected agreement", f"{s['expected_agreement']:.4f}"),
        ("steps / token-block executions", f"{s['steps']:,} / {s['token_block_executions']:,}"),
    ]
    lines.append("")
    lines += [f"{k:<32}{v}" for k, v in rows]
    return "\n".join(lines)


def write_outputs(out_dir: str | Path, records: dict, summary: dict, labels: dict,
                  meta: dict, config: dict, records_format: str = "csv") -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frame = record_frame(records)
    paths = []
    if records_format == "parquet":
        frame.to_parquet(out / "requests.parquet", index=False)
        paths.append(out / "requests.parquet")
    else:
        frame.to_csv(out / "requests.csv", index=False, float_format="%.9g")
        paths.append(out / "requests.csv")
    (out / "summary.json").write_text(json.dumps(vllm_summary(summary, labels, meta), indent=2))
    (out / "config.json").write_text(json.dumps(_finite({"config": config, "labels": labels,
                                                         **meta}), indent=2))
    return paths + [out / "summary.json", out / "config.json"]
