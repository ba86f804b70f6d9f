"""What a real run writes and prints.

The records and summary are the simulator's (`simulator/records.py`,
`simulator/metrics.py`, `simulator/writers.py`) so `validate` can join the
two; in a real run `expected_agreement` holds the *measured* agreement with
the full model's greedy tokens (teacher-forced by default, the share of
positions where the server's greedy token equals the full model's;
free-running with --free-running), and the table says so. Besides them:
steps.parquet (the per-step log), decisions.csv (every router decision, in
the columns `--skip-model replay` reads), tokens.jsonl (the generated ids,
the full model's, and where they first diverge). Only finished requests are
written (an interrupted run says how many were cut off).
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np

# the simulator's table, relabelled for a real run (row labels keep their width)
TITLE = ("skipsim run:", "skipsim REAL run (executor):")
RELABEL = {
    "duration (simulated s)": "duration (wall s)",
    "GPU busy fraction": "device busy fraction",
    "expected agreement": "measured agreement",
}
LABEL_WIDTH = 32  # simulator.writers.format_summary's row label width


def device_name(device: str) -> str:
    import torch

    if device == "cuda":
        return torch.cuda.get_device_name(0)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "cpu"


def labels_of(setup, cfg, skip, device: str, model) -> dict:
    import torch

    threads = torch.get_num_threads() if device == "cpu" else None
    params = sum(p.numel() for p in model.parameters())
    return {**setup.labels(), "skip_model": skip.label, "run": "real",
            "device": f"{device}: {device_name(device)}", "threads": threads,
            "dtype": cfg.dtype, "model_params": params,
            "agreement": "free-running" if cfg.free_running else "teacher-forced",
            "cost_model_device": cfg.sim.device}


def format_real_summary(summary: dict, labels: dict, meta: dict, free: dict | None) -> str:
    from simulator.writers import format_summary

    lines = format_summary(summary, labels, meta).split("\n")
    lines[0] = lines[0].replace(*TITLE, 1)
    for n, line in enumerate(lines):
        for old, new in RELABEL.items():
            if line.startswith(old):
                lines[n] = new.ljust(LABEL_WIDTH) + line[LABEL_WIDTH:]
    threads = f", {labels['threads']} torch thread(s)" if labels["threads"] else ""
    lines.insert(1, f"  real run on {labels['device']}{threads}, {labels['dtype']}, "
                    f"{labels['model_params'] / 1e6:.1f}M parameters; agreement measured "
                    f"{labels['agreement']} against the full model's greedy tokens")
    if free:
        lines.append(f"{'identical prefix (mean tokens)':<32}{free['identical_prefix_mean']:.1f}"
                     f"  ({100 * free['identical_fraction']:.1f}% of requests fully identical)")
    return "\n".join(lines)


def write_all(out: Path, ex, stats, setup, cfg, labels: dict, meta: dict, records_format: str,
              timeline, timeline_path) -> list[Path]:
    import pandas as pd

    from simulator.metrics import summarize
    from simulator.run import collect_records
    from simulator.skip_models.replay import COLUMNS as DECISION_COLUMNS
    from simulator.writers import write_outputs

    done = np.flatnonzero(ex.t.done)
    with np.errstate(invalid="ignore", divide="ignore"):  # unfinished rows: 0 / 0, dropped
        records = {k: np.asarray(v)[done] for k, v in collect_records(ex.t).items()}
    free = _free_running(ex, done) if cfg.free_running else None
    meta = {**meta, "finished": int(len(done)), "cut_off": int(ex.t.n - len(done)),
            "agreement_measured": labels["agreement"], **({"free_running": free} if free else {})}
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    if len(done):
        sim = cfg.sim
        summary = summarize(records, stats, setup.plan.num_layers, sim.slo_ttft_s,
                            sim.slo_tpot_s, sim.slo_e2el_s)
        summary["measured_agreement"] = summary["expected_agreement"]
        print(format_real_summary(summary, labels, meta, free))
        paths += write_outputs(out, records, summary, labels, meta, cfg.to_dict(), records_format)
    steps = ex.log.frame()
    steps.to_parquet(out / "steps.parquet", index=False)
    pd.DataFrame(ex.decisions, columns=list(DECISION_COLUMNS)).to_csv(out / "decisions.csv",
                                                                     index=False)
    with open(out / "tokens.jsonl", "w") as f:
        for i in done.tolist():
            toks, ref = ex.tokens[i], ex.refs[i][:len(ex.tokens[i])]
            f.write(json.dumps({"request_id": int(ex.t.request_id[i]), "tokens": toks,
                                "reference": ref, "identical_prefix": _prefix(toks, ref)}) + "\n")
    paths += [out / "steps.parquet", out / "decisions.csv", out / "tokens.jsonl"]
    if timeline is not None:
        paths.append(timeline.write(timeline_path))
    return paths


def _prefix(a: list[int], b: list[int]) -> int:
    """Tokens identical up to the first divergence."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _free_running(ex, done) -> dict:
    prefixes = [_prefix(ex.tokens[i], ex.refs[i]) for i in done.tolist()]
    lengths = [len(ex.tokens[i]) for i in done.tolist()]
    return {"identical_prefix_mean": float(np.mean(prefixes)) if prefixes else float("nan"),
            "identical_fraction": float(np.mean([p == n for p, n in zip(prefixes, lengths)]))
            if prefixes else float("nan")}
