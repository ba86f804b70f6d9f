"""The per-step overhead as the executor incurs it: its own serving loop, timed.

What a step costs beyond its priced pieces (layers, LM head, lookups, KV
holes) is the executor's loop: releasing arrivals, admission, the
scheduler's queue views and pick, the request table's bookkeeping, emitting
tokens, the KV accounting. No kernel benchmark sees it: the profile's old
row (a Hugging Face forward with no layers, less the LM head) timed the HF
framework, which the executor does not run, and priced the executor's
overhead +221% to +342% (validate's step level on the 2-core Xeon).

So the profile runs the real `executor.serve.Executor` on the real model
for a few requests (every one at t = 0, seeded random prompt and input
tokens) and reads the overhead off its step log as `simulate profile
--from-steps` does (`profiler.from_steps.overheads`: a step's wall time less
its pieces). One row per policy: `no-skip`, and a routing one whose knn
routers (one per inner checkpoint, `lookup_profile.knn_decision`) never
fire, so its lookups run and are timed as pieces. The loop runs on the
profile's clock (the thread's CPU time with one thread: a shared machine's
other work is not counted). The row's `median_s` is the *mean* over the
run's steps (a latency is a sum of steps), p10/p90 their spread, `repeats`
the number of steps; the fit's constant is the median over the rows.
"""

from __future__ import annotations

import numpy as np

from profiler.grid import ProfileGrid
from profiler.timing import Clock

BANK_ENTRIES = 1_000  # the routing run's banks: the overhead does not depend on their size


def _row(policy: str, over: np.ndarray, requests: int) -> dict:
    return {"component": "step_overhead", "phase": "", "index": policy, "tokens": 1,
            "batch": requests, "context": 0, "median_s": float(over.mean()),
            "p10_s": float(np.quantile(over, 0.1)), "p90_s": float(np.quantile(over, 0.9)),
            "repeats": int(len(over)), "inner": 1}


def profile_step_overhead(model, model_name: str, grid: ProfileGrid, device: str,
                          dtype: str = "float32", seed: int = 0) -> list[dict]:
    """One step_overhead row per policy of `grid.overhead_policies`."""
    import torch

    from executor.model_runner import ModelRunner

    n, prompt, output = (grid.overhead_requests, grid.overhead_prompt_tokens,
                         grid.overhead_output_tokens)
    runner = ModelRunner(model, _pages(n, prompt + output), torch.device(device),
                         getattr(torch, dtype))
    rng = np.random.default_rng([seed, 13])
    prompts = rng.integers(0, runner.vocab_size, (n, prompt)).tolist()
    inputs = rng.integers(0, runner.vocab_size, (n, output)).tolist()
    clock = Clock(device).now
    rows = []
    for policy in grid.overhead_policies:
        ex = _executor(policy, model_name, runner, prompts, inputs, output, clock, device, rng)
        ex.run()  # frees each request's pages as it finishes
        runner.check_integrity()
        rows.append(_row(policy, _overheads(ex), n))
    return rows


def _pages(requests: int, tokens: int, page_tokens: int = 16) -> int:
    return requests * -(-tokens // page_tokens) + 1


def _overheads(ex) -> np.ndarray:
    from profiler.from_steps import overheads

    return overheads(ex.log.frame().assign(run=0)).to_numpy()


def _executor(policy, model_name, runner, prompts, inputs, output, clock, device, rng):
    """The real serving loop over these requests, all at t = 0, on `clock`."""
    from executor.config import ExecConfig
    from executor.routers import RouterSkipMode
    from executor.serve import Executor
    from policies.admission import WatermarkAdmission
    from profiler.lookup_profile import IndexSettings, knn_decision, unit_vectors
    from simulator.config import SimConfig
    from simulator.run import Setup
    from traces.trace import Trace

    n = len(prompts)
    sim = SimConfig(model=model_name, policy=policy, cost_model="roofline",
                    skip_model="no-skip")
    setup = Setup(sim)
    setup.admission = WatermarkAdmission.from_fraction(sim.max_num_seqs,
                                                       sim.kv_watermark_fraction, runner.free_pages)
    trace = Trace(np.arange(n), np.zeros(n), np.full(n, len(prompts[0])), np.full(n, output),
                  [None] * n)
    plan, skip = setup.plan, None
    if setup.scheduler.uses_router and plan.num_blocks > 1:
        inner = range(1, plan.num_blocks)
        routers = {c: knn_decision("flat", unit_vectors(BANK_ENTRIES, runner.hidden_size, rng),
                                   IndexSettings(), device, rng, at=c)[0].routers[c]
                   for c in inner}
        skip = RouterSkipMode(routers,
                              dict.fromkeys(inner, float("inf")), dict.fromkeys(inner, 0.0),
                              "identity",
                              device, "never-firing knn routers")
    else:
        from executor.skip_modes import NoSkipMode

        skip = NoSkipMode()
    cfg = ExecConfig(sim=sim, skip_mode=skip.name, torch_device=device.split(":")[0])
    return Executor(trace, prompts, inputs, runner, setup, cfg, skip, clock=clock,
                    sleep=lambda s: None)
