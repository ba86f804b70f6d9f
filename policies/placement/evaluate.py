"""The planner's objective of any plan, by plain arithmetic (no solver).

A token's path through a plan is a Markov chain over its checkpoints: at a
router it hits with the option's hit probability and lands per the landing
distribution; a landing layer maps to the deepest checkpoint of the plan at
or before it (a landing at or before the next checkpoint is no skip: the
token runs the block, as `simulator/skip_models/measured.py` maps it), an
exit goes to the LM head. Propagating the probability mass forward gives
rho(c), the expected number of times a token stands at checkpoint c, and
w(j), the probability that it runs block j; every price in `PlanInputs` is
then a sum of mass × price. The ILP (`ilp.py`) models exactly these sums, so
this is the independent check of its objective.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass

from policies.placement.base import Plan
from policies.placement.inputs import PlanInputs


@dataclass(frozen=True)
class Evaluation:
    time_per_token_s: float       # expected decode time per token at the batch size
    log_agreement: float          # E[Σ log keep] (the ILP's linear floor)
    agreement: float              # E[Π keep]: expected agreement with the full model
    layers_per_token: float       # expected decoder layers run per token
    lookups_per_token: float
    bank_bytes: int
    skipped_fraction: float       # of the token's layer executions
    feasible: bool                # floor and bank memory met
    violated: str = ""            # which constraint is not met


def evaluate(inputs: PlanInputs, plan: Plan, tol: float = 1e-9) -> Evaluation:
    L, B = inputs.num_layers, inputs.batch
    bounds = plan.boundaries
    if bounds[0] != 0 or bounds[-1] != L:
        raise ValueError(f"plan {bounds} does not cover {L} layers")
    index = {b: i for i, b in enumerate(bounds)}
    rho = [0.0] * len(bounds)   # expected visits of each checkpoint
    keep = [0.0] * len(bounds)  # the same mass weighted by Π keep so far
    rho[0] = keep[0] = 1.0
    time = inputs.head_s
    log_agree = layers = lookups = 0.0
    final_keep = 0.0
    kv_layer_s = inputs.kv_projection.fixed_s / B + inputs.kv_projection.per_token_s
    for i, b in enumerate(bounds[:-1]):
        nxt, span = bounds[i + 1], bounds[i + 1] - b
        run, run_keep = rho[i], keep[i]
        if i > 0:
            o = plan.option(inputs, b)
            visit = rho[i]
            time += (visit * (o.lookup.fixed_s + o.lookup.per_token_s) if inputs.per_visit
                     else o.lookup.fixed_s / B + visit * o.lookup.per_token_s)
            lookups += visit
            for land, p in o.landings:
                mass = visit * o.hit_prob * p
                if mass == 0.0:
                    continue
                to = L if land >= L else bounds[bisect_right(bounds, land) - 1]
                if to == b:  # lands before the next checkpoint: runs the block
                    continue
                moved_keep = keep[i] * o.hit_prob * p
                run -= mass
                run_keep -= moved_keep
                time += mass * (to - b) * kv_layer_s
                log_agree += mass * o.log_keep
                kept = moved_keep * (1.0 - o.error_prob)
                if to == L:
                    final_keep += kept
                else:
                    j = index[to]
                    rho[j] += mass
                    keep[j] += kept
        run = max(0.0, run)
        fixed, per_token = inputs.block_fixed_s(span), inputs.block_per_token_s(span)
        time += run * (fixed + per_token) if inputs.per_visit else fixed / B + run * per_token
        layers += run * span
        if nxt == L:
            final_keep += run_keep
        else:
            rho[i + 1] += run
            keep[i + 1] += run_keep
    bank = sum(plan.option(inputs, b).bank_entries for b in bounds[1:-1]) * inputs.entry_bytes
    violated = ""
    if log_agree < inputs.min_log_agreement - tol:
        violated = (f"agreement {math.exp(log_agree):.4f} below the floor "
                    f"{inputs.min_agreement:g}")
    elif bank > inputs.bank_budget_bytes + tol:
        violated = f"bank memory {bank} B exceeds the {inputs.bank_budget_bytes:.0f} B budget"
    return Evaluation(time, log_agree, final_keep, layers, lookups, int(bank),
                      1.0 - layers / L, not violated, violated)
