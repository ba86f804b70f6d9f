"""Outputs of a run: the terminal summary table, per-request records
(CSV or Parquet), a JSON summary shaped like vLLM bench's result JSON
(its key names and millisecond units where the metrics overlap, skipsim's
own metrics beside them) and the resolved configuration."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

from simulator.metrics import PERCENTILES
from simulator.records import record_frame

VLLM_METRICS = {"ttft": "ttft_s", "tpot": "tpot_s", "itl": "itl_s", "e2el": "e2e_s"}
NOT_DEFINED = "–"  # printed for a statistic with no sample (see FOOTNOTE)
FOOTNOTE = (f"{NOT_DEFINED} not defined: no request produced a second output token, so there "
            "is no time per output token (TPOT = (E2E - TTFT) / (output - 1)), no inter-token "
            "gap and no decode token")


def request_rate_json(rate: float | None):
    """vLLM bench writes an infinite rate as the string "inf"; None: the
    arrivals were the trace's own, no rate was used."""
    if rate is None:
        return None
    return "inf" if math.isinf(rate) else rate


def vllm_summary(summary: dict, labels: dict, meta: dict) -> dict:
    """vLLM benchmark_serving.py result keys (times in ms), then skipsim's extras.

    `max_concurrency` is null: skipsim's clients never cap concurrency (vLLM
    bench writes null when --max-concurrency is not given). `tokenizer_id`
    names what counted the trace's tokens (null for synthetic lengths).
    """
    out = {
        "date": datetime.now(UTC).strftime("%Y%m%d-%H%M%S"),
        "backend": "skipsim",
        "model_id": labels["model"],
        "tokenizer_id": meta.get("tokenizer_id"),
        "num_prompts": summary["completed"],
        "request_rate": request_rate_json(meta.get("request_rate_per_s")),
        "burstiness": meta.get("burstiness"),
        "max_concurrency": None,
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
    out["skipsim"] = _finite({"labels": labels, **meta, **summary})
    return _finite(out, keep=("request_rate",))


def _finite(obj, keep=()):
    """JSON has no NaN/inf: write them as null (keys in `keep` are written already)."""
    if isinstance(obj, dict):
        return {k: v if k in keep else _finite(v) for k, v in obj.items()}
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def cell(value: float, width: int = 10, decimals: int = 3) -> str:
    """A right-aligned number that never runs into its neighbour: fewer
    decimals, then 3 significant digits, when it is too wide; NaN is "–"."""
    if value != value:
        return NOT_DEFINED.rjust(width)
    for d in range(decimals, -1, -1):
        text = f"{value:.{d}f}"
        if len(text) < width:
            return text.rjust(width)
    return f"{value:.3g}".rjust(width)


def _rate_text(meta: dict) -> str:
    rate = meta.get("request_rate_per_s")
    if rate is not None:
        return "all at t = 0" if math.isinf(rate) else f"at {rate:.3f} req/s"
    achieved = meta.get("arrival_rate_per_s")
    whose = "replayed" if meta.get("arrivals") == "replayed" else "the trace's own"
    return f"at {whose} arrival times" + (
        f" ({achieved:.3f} req/s)" if achieved is not None and math.isfinite(achieved) else "")


def format_summary(summary: dict, labels: dict, meta: dict) -> str:
    s = summary
    lookups = "in line" if labels["lookup_placement"] == "gpu" else "on the host, overlapped"
    lines = [
        f"skipsim run: {labels['model']} on {labels['device']}, checkpoints "
        f"{labels['checkpoints']}, policy {labels['policy']}, KV holes {labels['kv_policy']}, "
        f"lookups {lookups}",
        f"  cost model: {labels['cost_model']}",
        *([f"    chosen: {labels['cost_model_source']}"] if labels.get("cost_model_source")
          else []),
        f"  skip model: {labels['skip_model']}",
        *(f"  note: {n}" for n in labels.get("notes", ())),
        f"  requests {s['completed']:,} {_rate_text(meta)}"
        + (f" ({meta['rate_note']})" if meta.get("rate_note") else ""),
        "",
        f"{'metric':<32}{'mean':>10}{'p50':>10}{'p90':>10}{'p99':>10}",
    ]
    undefined = False
    for label, key in (("TTFT (ms)", "ttft_s"), ("TPOT (ms)", "tpot_s"), ("ITL (ms)", "itl_s"),
                       ("E2E latency (s)", "e2e_s")):
        unit = 1.0 if key == "e2e_s" else 1e3
        st = s[key]
        undefined |= any(st[c] != st[c] for c in ("mean", "p50", "p90", "p99"))
        lines.append(f"{label:<32}" + "".join(cell(st[c] * unit)
                                             for c in ("mean", "p50", "p90", "p99")))
    per_token = s["layers_per_decode_token"]
    undefined |= per_token != per_token
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
        ("device busy fraction", f"{s['gpu_busy_fraction']:.3f}"),
        ("layers per decode token", (NOT_DEFINED if per_token != per_token else
                                     f"{per_token:.2f}") + f" of {s['num_layers']}"),
        ("skipped layer fraction", f"{s['skipped_layer_fraction']:.3f}"),
        ("exits per decode token", f"{s['exits_per_decode_token']:.3f}"),
        ("lookups per decode token", f"{s['lookups_per_decode_token']:.2f}"),
        ("lookup time (busy s, frac)",
         f"{s['lookup_busy_s']:.2f}  ({s['lookup_busy_fraction']:.3f})"),
        ("KV utilisation mean / peak",
         f"{s['kv_utilisation_mean']:.3f} / {s['kv_utilisation_peak']:.3f}"),
        ("preemptions", f"{s['preemptions']}"),
        ("expected agreement", f"{s['expected_agreement']:.4f}"),
        ("steps / token-block executions", f"{s['steps']:,} / {s['token_block_executions']:,}"),
    ]
    if s.get("steps_outside_profiled_grid"):
        rows.append(("steps outside the profiled grid", f"{s['steps_outside_profiled_grid']:,}"
                     " (priced by extrapolation)"))
    lines.append("")
    lines += [f"{k:<32}{v}" for k, v in rows]
    if undefined:
        lines += ["", FOOTNOTE]
    return "\n".join(lines)


def write_outputs(out_dir: str | Path, records: dict, summary: dict, labels: dict,
                  meta: dict, config: dict, records_format: str = "csv",
                  records_written: Path | None = None) -> list[Path]:
    """The records file (unless the run streamed it to `records_written`
    already), summary.json and config.json in `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    if records_written is not None:
        paths.append(Path(records_written))
    elif records_format == "parquet":
        frame = record_frame(records)
        frame.to_parquet(out / "requests.parquet", index=False)
        paths.append(out / "requests.parquet")
    else:
        record_frame(records).to_csv(out / "requests.csv", index=False, float_format="%.9g")
        paths.append(out / "requests.csv")
    (out / "summary.json").write_text(json.dumps(vllm_summary(summary, labels, meta), indent=2))
    (out / "config.json").write_text(json.dumps(_finite({"config": config, "labels": labels,
                                                         **meta}), indent=2))
    return paths + [out / "summary.json", out / "config.json"]
