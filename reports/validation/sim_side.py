"""The simulator's side of one comparison: the served system the executor
resolved (its config.json, field for field), the same trace file and
arrival flags, and the skip model of the mode.

The trace is loaded exactly as the executor loaded it; the executor may
correct prompt lengths to what its tokenizer produced, so those are taken
from its records. Anything else that differs between the two sides (request
ids, arrivals, output lengths, the checkpoint plan) is refused: the scores
would compare different workloads.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from skipsim.errors import UserError

# the simulator's skip model per validate mode
SKIP_MODEL = {"random": "parametric", "replay": "replay", "measured": "measured",
              "no-skip": "no-skip"}


def read_real(run_dir: Path) -> dict:
    """A finished executor run: its records (a dict of arrays), config, steps."""
    import pandas as pd

    run_dir = Path(run_dir)
    try:
        frame = pd.read_csv(run_dir / "requests.csv").sort_values("request_id")
        config = json.loads((run_dir / "config.json").read_text())
    except (OSError, ValueError) as err:
        raise UserError(f"{run_dir}: not a finished executor run ({err})") from None
    done = run_dir / "validate_run.json"  # validate's own record of the run (real_runs)
    probe = json.loads(done.read_text()).get("speed_probe") if done.is_file() else None
    return {"records": {c: frame[c].to_numpy() for c in frame.columns}, "config": config,
            "dir": run_dir, "speed_probe": probe}


def sim_config(real: dict, mode: str, cost_model: str | None = None):
    """The executor's resolved `SimConfig` with the mode's skip model (and
    `cost_model` in place of the executor's, when given)."""
    from simulator.config import SimConfig

    raw = dict(real["config"]["config"]["sim"])
    options = dict(raw.get("skip_options") or {})
    if mode == "replay":
        options = {"skip_config": str(real["dir"] / "decisions.csv")}
    raw.update(skip_model=SKIP_MODEL[mode], skip_options=options)
    if cost_model is not None:
        raw["cost_model"] = cost_model
    names = {f.name for f in dataclasses.fields(SimConfig)}
    return SimConfig(**{k: v for k, v in raw.items() if k in names})


def simulate_like(real: dict, mode: str, trace_path: Path, rate_per_s: float,
                  cost_model: str | None = None) -> dict:
    """The simulator on the executor run's trace and system: its records and summary."""
    from simulator.metrics import summarize
    from simulator.run import Setup, simulate
    from traces.config import TraceConfig
    from traces.loaders import load_trace

    cfg = sim_config(real, mode, cost_model)
    trace = load_trace(str(trace_path), TraceConfig(request_rate_per_s=rate_per_s, seed=cfg.seed))
    trace = matched_trace(trace, real["records"])
    setup = Setup(cfg)
    ran = real["config"]["labels"]["checkpoints"]
    if str(setup.plan) != ran:
        raise UserError(f"mismatched plans: the executor ran {ran}, the simulator would "
                        f"run {setup.plan}")
    result = simulate(trace, cfg, setup=setup)
    summary = summarize(result.records, result.stats, setup.spec.num_layers)
    return {"records": result.records, "summary": summary, "labels": result.labels}


def matched_trace(trace, real_records: dict):
    """`trace` with the executor's prompt lengths, refused unless it is the
    workload the executor served (same ids, arrivals, output lengths)."""
    from traces.trace import Trace

    ids = np.asarray(real_records["request_id"])
    if len(ids) != len(trace) or not np.array_equal(np.sort(trace.request_id), ids):
        raise UserError(f"mismatched traces: the executor served {len(ids)} requests, "
                        f"the simulator's trace holds {len(trace)} (or other request ids)")
    order = np.argsort(trace.request_id)
    arrivals = trace.arrival_time_s[order]
    if not np.allclose(arrivals, real_records["arrival_time_s"], rtol=1e-6, atol=1e-6):
        raise UserError("mismatched traces: arrival times differ between the executor's run "
                        "and the simulator's trace")
    if not np.array_equal(trace.output_tokens[order], real_records["output_tokens"]):
        raise UserError("mismatched traces: output lengths differ between the two sides")
    prompt = np.asarray(real_records["prompt_tokens"], np.int64)
    back = np.empty_like(prompt)
    back[order] = prompt
    return Trace(trace.request_id, trace.arrival_time_s, back, trace.output_tokens,
                 trace.prompt_text, trace.metadata)
