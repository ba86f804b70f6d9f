"""Vidur's protocol with skipping: capacity, loads, policies, skip modes.

1. The workload: the trace's first `num_prompts` requests (outputs cut to
   `max_output_tokens` when given), saved once so both sides read one file.
2. Capacity per policy: the executor with every request at t = 0; its
   measured throughput (completed / makespan).
3. Per load (a fraction of capacity) and policy: Poisson arrivals at that
   rate (seeded, the same on both sides); the executor run `repeats` times
   (the noise floor), plus a `--skip-mode random` run for the random mode;
   the simulator once per mode on the same trace and served system.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from reports.validation.compare import join, noise, request_errors, step_errors
from reports.validation.config import ValidateConfig
from reports.validation.real_runs import real_run
from reports.validation.sim_side import read_real, simulate_like

CDF_METRICS = ("ttft_s", "tpot_s", "e2e_s")
MAX_STEP_POINTS = 3000  # steps drawn on the page (every one is scored)


def workload(cfg: ValidateConfig, cache: Path) -> Path:
    from traces.config import TraceConfig
    from traces.loaders import load_trace

    trace = load_trace(cfg.trace, TraceConfig(num_prompts=cfg.num_prompts, seed=cfg.seed))
    if cfg.max_output_tokens is not None:
        trace.output_tokens = np.minimum(trace.output_tokens, cfg.max_output_tokens)
    blob = json.dumps([trace.request_id.tolist(), trace.prompt_tokens.tolist(),
                       trace.output_tokens.tolist(), trace.prompt_text]).encode()
    path = cache / "traces" / f"{hashlib.sha256(blob).hexdigest()[:16]}.jsonl"
    if not path.is_file():
        trace.save(path)
    return path


def _flags(cfg: ValidateConfig, policy: str, rate: float, skip_mode: str) -> dict:
    flags = {"model": cfg.model, "policy": policy, "seed": cfg.seed, "threads": cfg.threads,
             "request-rate": "inf" if np.isinf(rate) else repr(float(rate)),
             "skip-mode": skip_mode}
    if skip_mode == "random":
        flags["skip-rates"] = cfg.skip_rates
    return flags


def throughput(records: dict) -> float:
    span = float(np.max(records["finish_time_s"]) - np.min(records["arrival_time_s"]))
    return len(records["request_id"]) / span


def run_validation(cfg: ValidateConfig, cache: Path, progress=None, log=None) -> dict:
    from policies.schedulers import make_scheduler

    trace_path = workload(cfg, cache)
    runs = cache / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    rows, capacity = [], {}
    for policy in cfg.policies:
        routes = make_scheduler(policy).uses_router
        modes = cfg.modes if routes else ("no-skip",)
        primary = ("router" if set(modes) & {"replay", "measured"} else "random") if routes \
            else "no-skip"
        cap_dir = real_run(_flags(cfg, policy, float("inf"), primary), trace_path, 0, runs, log)
        capacity[policy] = throughput(read_real(cap_dir)["records"])
        _tick(progress)
        for load in cfg.loads:
            rate = load * capacity[policy]
            reals = []
            for k in range(cfg.repeats):
                reals.append(read_real(real_run(_flags(cfg, policy, rate, primary), trace_path,
                                                k, runs, log)))
                _tick(progress)
            floor = noise(reals[0]["records"], reals[1]["records"])
            for mode in modes:
                real = reals[0]
                if mode == "random" and primary != "random":
                    real = read_real(real_run(_flags(cfg, policy, rate, "random"), trace_path,
                                              0, runs, log))
                sim = simulate_like(real, mode, trace_path, rate)
                rows.append(_row(policy, load, rate, mode, sim, real, floor))
                _tick(progress)
    return {"config": {**cfg.__dict__, "trace_file": str(trace_path)},
            "capacity_req_per_s": capacity, "rows": rows}


def _row(policy, load, rate, mode, sim, real, floor) -> dict:
    import pandas as pd

    steps = pd.read_parquet(real["dir"] / "steps.parquet")
    per_step = steps.groupby("step").agg(real_s=("duration_s", "sum"),
                                         price_s=("cost_model_s", "sum"))
    if len(per_step) > MAX_STEP_POINTS:
        per_step = per_step.sample(MAX_STEP_POINTS, random_state=0)
    return {"policy": policy, "load": load, "rate_req_per_s": rate, "mode": mode,
            "real_run": str(real["dir"]), "sim_labels": sim["labels"],
            "request": request_errors(sim["records"], real["records"]), "noise": floor,
            "join": join(sim["records"], real["records"]), "step": step_errors(steps),
            "cdf": {m: {"sim": _finite(sim["records"][m]), "real": _finite(real["records"][m])}
                    for m in CDF_METRICS},
            "steps_plot": {"real_s": per_step["real_s"].tolist(),
                           "price_s": per_step["price_s"].tolist()}}


def _finite(v) -> list:
    v = np.asarray(v, float)
    return np.sort(v[np.isfinite(v)]).tolist()


def _tick(progress) -> None:
    if progress is not None:
        progress.update(1)


def total_units(cfg: ValidateConfig) -> int:
    """Progress units: per policy, capacity + per load (repeats + modes)."""
    from policies.schedulers import make_scheduler

    n = 0
    for policy in cfg.policies:
        modes = len(cfg.modes) if make_scheduler(policy).uses_router else 1
        n += 1 + len(cfg.loads) * (cfg.repeats + modes)
    return n
