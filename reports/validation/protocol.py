"""Vidur's protocol with skipping: capacity, loads, policies, skip modes.

1. The workload: the trace's first `num_prompts` requests (outputs cut to
   `max_output_tokens` when given), saved once so both sides read one file.
2. Capacity per policy: the executor with every request at t = 0; its
   measured throughput (completed / makespan).
3. Per load (a fraction of capacity) and policy: Poisson arrivals at that
   rate (seeded, the same on both sides); the executor run `repeats` times,
   in rounds over every point (the noise floor, the machine's drift
   included), plus a `--skip-mode random` run for the random mode; the
   simulator once per mode on the same trace and served system.
4. Each point's machine speed: the speed probe around its real runs against
   the probe of the profile that priced them (`profiler.speed_probe`; "no
   reference" for a profile measured before probes). Reported, never applied.
5. With `fit_on`: the cost model refitted on the first run of each of those
   loads (every policy's, `refit.py`), and the simulator run again on it at
   every other load: never scored on a run it was fitted on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reports.validation.compare import join, noise, request_errors, step_errors
from reports.validation.compare import per_step as step_table
from reports.validation.config import ValidateConfig
from reports.validation.real_runs import real_run
from reports.validation.sim_side import read_real, simulate_like

CDF_METRICS = ("ttft_s", "tpot_s", "e2e_s")
MAX_STEP_POINTS = 3000  # steps drawn on the page (every one is scored)
SIM_WEIGHT = 0.05  # a simulator run, in capacity runs of the executor (progress only)


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
    if skip_mode == "router" and cfg.skip_config:
        flags["skip-config"] = cfg.skip_config
    if cfg.cost_model:
        flags["cost-model"] = cfg.cost_model
    return flags


def throughput(records: dict) -> float:
    span = float(np.max(records["finish_time_s"]) - np.min(records["arrival_time_s"]))
    return len(records["request_id"]) / span


@dataclass(frozen=True)
class PolicyPlan:
    """What one policy runs: its skip modes and the executor's skip mode for
    the runs they share (`primary`); the random mode needs its own runs when
    the primary runs route live."""

    policy: str
    modes: tuple[str, ...]
    primary: str

    @classmethod
    def of(cls, cfg: ValidateConfig, policy: str) -> PolicyPlan:
        from policies.schedulers import make_scheduler

        if not make_scheduler(policy).uses_router:
            return cls(policy, ("no-skip",), "no-skip")
        primary = "router" if set(cfg.modes) & {"replay", "measured"} else "random"
        return cls(policy, cfg.modes, primary)

    @property
    def extra_random(self) -> bool:
        return "random" in self.modes and self.primary != "random"


def run_validation(cfg: ValidateConfig, cache: Path, progress=None, log=None) -> dict:
    from reports.validation.refit import fit_on_load

    trace_path = workload(cfg, cache)
    runs = cache / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    plans = [PolicyPlan.of(cfg, p) for p in cfg.policies]
    capacity, reals, randoms = {}, {}, {}
    for plan in plans:  # every executor run first: the fit needs its load's runs
        cap_dir = real_run(_flags(cfg, plan.policy, float("inf"), plan.primary), trace_path, 0,
                           runs, log)
        capacity[plan.policy] = throughput(read_real(cap_dir)["records"])
        _tick(progress, run_weight(float("inf")))
    # Repeats run in rounds (every point once, then every point again), not back
    # to back: a point's two adjacent runs agreed to 0.2-18% (mostly under 6%),
    # while the same point moved by up to 34 points of error between two
    # validates ten minutes apart on a quiet machine; adjacent runs hid the drift.
    for k in range(cfg.repeats):
        for plan in plans:
            for load in cfg.loads:
                rate = load * capacity[plan.policy]
                reals.setdefault((plan.policy, load), []).append(read_real(real_run(
                    _flags(cfg, plan.policy, rate, plan.primary), trace_path, k, runs, log)))
                _tick(progress, run_weight(load))
                if k == 0 and plan.extra_random:
                    randoms[plan.policy, load] = read_real(real_run(
                        _flags(cfg, plan.policy, rate, "random"), trace_path, 0, runs, log))
                    _tick(progress, run_weight(load))
    fit = None
    if cfg.fit_on:
        fit = fit_on_load(cfg.fit_on, [reals[p.policy, x][0] for x in cfg.fit_on
                                       for p in plans], cache / "fits")
        if log:
            log(f"cost model refitted on {fit['on']}: {fit['path']}")
    rows = []
    for plan in plans:
        for load in cfg.loads:
            rate = load * capacity[plan.policy]
            first, second = reals[plan.policy, load][:2]
            floor = noise(first["records"], second["records"])
            for mode in plan.modes:
                real = randoms[plan.policy, load] if mode == "random" and plan.extra_random \
                    else first
                sim = simulate_like(real, mode, trace_path, rate)
                rows.append(_row(plan.policy, load, rate, mode, sim, real, floor, "profile",
                                 speed=machine_speed(real, second)))
                _tick(progress, SIM_WEIGHT)
                if fit is not None and load in cfg.scored_loads:  # never on its own runs
                    sim = simulate_like(real, mode, trace_path, rate, cost_model=fit["path"])
                    rows.append(_row(plan.policy, load, rate, mode, sim, real, floor, "refit",
                                     fit["fitted"], machine_speed(real, second)))
                    _tick(progress, SIM_WEIGHT)
    return {"config": {**cfg.__dict__, "scored_loads": cfg.scored_loads if fit else (),
                       "trace_file": str(trace_path)},
            "capacity_req_per_s": capacity, "rows": rows,
            "fit": None if fit is None else {k: v for k, v in fit.items() if k != "fitted"}}


def machine_speed(real: dict, repeat: dict) -> dict:
    """The machine's speed during a point's scored run and its repeat, each
    relative to the probe of the profile the run was priced by: reference /
    the run's probe time (0.8: work took 1.25x as long as when the profile was
    measured). None where the run has no probe or the profile no reference."""
    from profiler.speed_probe import profile_reference, relative_speed

    labels = real["config"].get("labels", {})
    path = labels.get("cost_model_profile") or real["config"]["config"]["sim"].get("cost_model")
    ref = profile_reference(path)
    times = lambda r: list((r.get("speed_probe") or {}).values())  # noqa: E731
    return {"profile": path, "reference_s": ref, "probe_s": times(real),
            "repeat_probe_s": times(repeat), "relative": relative_speed(ref, times(real)),
            "repeat_relative": relative_speed(ref, times(repeat))}


def _row(policy, load, rate, mode, sim, real, floor, cost, fitted=None, speed=None) -> dict:
    """One comparison. cost: "profile" (the executor's cost model, the
    committed profile) or "refit" (`fitted`, refitted on another load's run):
    the simulator runs on it and the steps are repriced by it. `speed`:
    `machine_speed` of the point (reported beside the errors, never applied)."""
    import pandas as pd

    steps = pd.read_parquet(real["dir"] / "steps.parquet")
    if fitted is not None:
        from profiler.from_steps import price_steps

        steps = price_steps(steps, fitted)
    per_step = step_table(steps)
    if len(per_step) > MAX_STEP_POINTS:
        per_step = per_step.sample(MAX_STEP_POINTS, random_state=0)
    return {"policy": policy, "load": load, "rate_req_per_s": rate, "mode": mode, "cost": cost,
            "real_run": str(real["dir"]), "sim_labels": sim["labels"], "machine": speed,
            "request": request_errors(sim["records"], real["records"]), "noise": floor,
            "join": join(sim["records"], real["records"]), "step": step_errors(steps),
            "cdf": {m: {"sim": _finite(sim["records"][m]), "real": _finite(real["records"][m])}
                    for m in CDF_METRICS},
            "steps_plot": {"real_s": per_step["real_s"].tolist(),
                           "price_s": per_step["price_s"].tolist()}}


def _finite(v) -> list:
    v = np.asarray(v, float)
    return np.sort(v[np.isfinite(v)]).tolist()


def _tick(progress, weight: float) -> None:
    if progress is not None:
        progress.update(weight)


def run_weight(load: float) -> float:
    """A run's expected time in capacity runs: requests arrive over about
    1 / load of the capacity run's makespan (all at t = 0: 1)."""
    return 1.0 if np.isinf(load) else 1.0 / load


def total_weight(cfg: ValidateConfig) -> float:
    """The whole protocol in progress units (`run_weight`, `SIM_WEIGHT`), so
    the bar's rate and ETA follow time, not the count of runs."""
    total = 0.0
    for plan in (PolicyPlan.of(cfg, p) for p in cfg.policies):
        total += run_weight(float("inf"))
        for load in cfg.loads:
            total += (cfg.repeats + plan.extra_random) * run_weight(load)
            sims = len(plan.modes) * (1 + (load in cfg.scored_loads and bool(cfg.fit_on)))
            total += sims * SIM_WEIGHT
    return total
