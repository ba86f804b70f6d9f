"""The comparison table of `simulate plan`: the ILP plan against the baselines.

Rows: the ILP plan, the default plan (`8,4,4,4,4,2,2,2` where it fits the
model), uniform plans of 2, 4 and 6 blocks (routers at the profile's own
target, full bank) and no skipping. Predicted columns come from the
evaluator at each plan's own operating batch B (`batch.py`: a slower plan
keeps more requests in flight); `--confirm` adds the simulator's TPOT,
end-to-end latency, throughput and agreement on the workload, and the gap
between the predicted and simulated TPOT (the predicted TPOT is the time of
one decode round, B × the time per token), or why the simulator refused the
row (on pipeline stages: a plan with routers and fewer blocks than GPUs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from policies.placement.base import ManualPlacement, Plan, UniformPlacement
from policies.placement.evaluate import Evaluation, evaluate
from policies.placement.inputs import PlanInputs
from simulator.config import DEFAULT_CHECKPOINTS

MIB = 2**20


@dataclass
class Row:
    name: str
    plan: Plan
    ev: Evaluation
    kv_bytes: float
    kv_requests: float
    batch: float = 1.0            # the plan's own operating batch (`batch.py`)
    tpot_s: float = 0.0           # predicted decode round at that batch
    sim: dict | None = None


def baseline_plans(inputs: PlanInputs, point: str) -> list[tuple[str, Plan]]:
    rows = []
    if sum(int(x) for x in DEFAULT_CHECKPOINTS.split(",")) == inputs.num_layers:
        rows.append((f"default {DEFAULT_CHECKPOINTS}",
                     ManualPlacement(DEFAULT_CHECKPOINTS, point).place(inputs)))
    for k in (2, 4, 6):
        rows.append((f"uniform {k} blocks", UniformPlacement(k, point).place(inputs)))
    rows.append(("no skip", Plan((0, inputs.num_layers), ())))
    return rows


def make_rows(inputs: PlanInputs, plans: list[tuple[str, Plan]], own_batch) -> list[Row]:
    """`own_batch(plan)` -> (operating batch, predicted TPOT in seconds) of each row."""
    out = []
    # one GPU's memory, pooled over the pipeline stages (`stages.py`)
    gpu = inputs.labels["gpu_memory_bytes"] * inputs.labels.get("num_gpus", 1)
    weights = inputs.labels["weight_bytes"]
    per_request = inputs.labels["kv_bytes_per_request"]
    for name, plan in plans:
        ev = evaluate(inputs, plan)
        kv = gpu - weights - ev.bank_bytes
        b, tpot = own_batch(plan)
        out.append(Row(name, plan, ev, kv, kv / per_request, b, tpot))
    return out


def format_table(rows: list[Row], inputs: PlanInputs) -> str:
    # ms/token at the priced whole batch; B and the predicted TPOT at each plan's own batch
    per_token = f"ms/tok@{inputs.batch}"
    head = (f"{'plan':<24} {'blocks':<26} {per_token:>9} {'B':>5} {'pred TPOT ms':>12} "
            f"{'agree':>7} {'skipped':>7} {'bank MiB':>9} {'KV GiB':>7} {'KV reqs':>8}")
    confirm = any(r.sim for r in rows)
    if confirm:
        head += (f" | {'sim TPOT ms':>11} {'gap':>7} {'sim E2E s':>9} {'tok/s':>8} "
                 f"{'sim agree':>9}")
    lines = [head, "-" * len(head)]
    for r in rows:
        blocks = r.plan.block_sizes()
        line = (f"{r.name:<24} {blocks[:26]:<26} {r.ev.time_per_token_s * 1e3:>9.3f} "
                f"{r.batch:>5.2f} {r.tpot_s * 1e3:>12.3f} {r.ev.agreement:>7.4f} "
                f"{r.ev.skipped_fraction:>7.2%} {r.ev.bank_bytes / MIB:>9.2f} "
                f"{r.kv_bytes / 2**30:>7.2f} {r.kv_requests:>8.0f}")
        if not r.ev.feasible:
            line += f"  [{r.ev.violated}]"
        if r.sim and "error" in r.sim:  # the simulator refused the row (`stages.py`)
            line += f" | not simulated: {r.sim['error']}"
        elif r.sim:
            s = r.sim
            pred = r.tpot_s
            gap = (pred - s["tpot_s"]) / s["tpot_s"] if s["tpot_s"] else math.nan
            line += (f" | {s['tpot_s'] * 1e3:>11.3f} {gap:>+7.1%} {s['e2e_s']:>9.2f} "
                     f"{s['tokens_per_s']:>8.1f} {s['agreement']:>9.4f}")
        lines.append(line)
    return "\n".join(lines)
