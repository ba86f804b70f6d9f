"""The planner's objective of any plan, by plain arithmetic (no solver).

A token's path through a plan is a Markov chain over its checkpoints: at a
router it hits with the option's hit probability and lands per the landing
distribution; a landing layer maps to the deepest checkpoint of the plan at
or before it (a landing at or before the next checkpoint is no skip: the
token runs the block, as `simulator/skip_models/measured.py` maps it), an
exit goes to the LM head. Propagating the probability mass forward gives
rho(c), the expected number of times a token stands at checkpoint c, and
w(j), the probability that it runs block j.

Groups (batch B > 1). Beside the mass, the chain carries the *share-weighted*
mass phi: mass × the token's share of its group's fixed costs (`inputs.py`).
phi starts at 1/B (the round's B tokens run block 0 as one step); at a
router where a token skips with probability s, the stayers' phi is
phi × (1 - s^B) (the group's next step runs when anyone of it stays; their
mass is × (1 - s)); a token that skips to landing l with per-token
probability a = h·pi(l) joins the group of the others that skip the same way,
share s(a) = E[1/(1 + Bin(B-1, a))] = (1 - (1-a)^B)/(B·a). Every fixed part
(block step: layers × layer fixed + step overhead; lookup call; K/V projection
call; LM-head call) is priced × phi, every per-token part × mass:
  time = Σ_blocks [F·phi_run + P·run] + Σ_routers [lf·phi + lp·rho]
         + Σ_skips (layers skipped)·[kvf·s(a)·mass + kvp·mass]
         + lmf·phi_head + lmp + head_s.
The approximation: every split is priced as if the group it splits were a
full group of B: exact at B = 1, at the first router of the round, and when
nobody or everybody leaves (a = 0 or 1); a group smaller than B is charged
up to s more steps per visit for its stayers (a lone token stays with
probability 1 - s, not 1 - s^B) and a departing group of a smaller one a
larger share than s(a) (fewer fellow travellers). Landing layers that map to
the same checkpoint count as separate groups. At B = 1 every share is 1 and this
is the batch-1 chain exactly. The ILP (`ilp.py`) and the exact search
(`dp.py`) model exactly these sums, so this is the independent check of
their objective; `tests/test_placement_answers.py` holds it against the
simulator.
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
    block_steps_per_round: float = 1.0  # expected block steps of a round of B tokens


def evaluate(inputs: PlanInputs, plan: Plan, tol: float = 1e-9) -> Evaluation:
    L, B = inputs.num_layers, inputs.batch
    bounds = plan.boundaries
    if bounds[0] != 0 or bounds[-1] != L:
        raise ValueError(f"plan {bounds} does not cover {L} layers")
    index = {b: i for i, b in enumerate(bounds)}
    rho = [0.0] * len(bounds)   # expected visits of each checkpoint
    phi = [0.0] * len(bounds)   # the same mass weighted by the group share
    keep = [0.0] * len(bounds)  # the same mass weighted by Π keep so far
    rho[0] = keep[0] = 1.0
    phi[0] = inputs.first_share
    kvf, kvp = inputs.kv_projection.fixed_s, inputs.kv_projection.per_token_s
    time = inputs.head_s + inputs.lm_head.per_token_s
    log_agree = layers = lookups = steps = head_phi = 0.0
    final_keep = 0.0
    for i, b in enumerate(bounds[:-1]):
        nxt, span = bounds[i + 1], bounds[i + 1] - b
        run, run_phi, run_keep = rho[i], phi[i], keep[i]
        if i > 0:
            o = plan.option(inputs, b)
            visit, visit_phi = rho[i], phi[i]
            time += o.lookup.fixed_s * visit_phi + o.lookup.per_token_s * visit
            lookups += visit
            skipped = 0.0
            for land, p in o.landings:
                a = o.hit_prob * p
                mass = visit * a
                if mass == 0.0:
                    continue
                to = L if land >= L else bounds[bisect_right(bounds, land) - 1]
                if to == b:  # lands before the next checkpoint: runs the block
                    continue
                moved_keep = keep[i] * a
                new_phi = inputs.departure_share(a) * mass
                run -= mass
                skipped += a
                run_keep -= moved_keep
                time += (to - b) * (kvf * new_phi + kvp * mass)
                log_agree += mass * o.log_keep
                kept = moved_keep * (1.0 - o.error_prob)
                if to == L:
                    final_keep += kept
                    head_phi += new_phi
                else:
                    j = index[to]
                    rho[j] += mass
                    phi[j] += new_phi
                    keep[j] += kept
            run_phi = visit_phi * inputs.stay_factor(skipped)
        run = max(0.0, run)
        time += inputs.block_fixed_s(span) * run_phi + inputs.block_per_token_s(span) * run
        layers += run * span
        steps += B * run_phi
        if nxt == L:
            final_keep += run_keep
            head_phi += run_phi
        else:
            rho[i + 1] += run
            phi[i + 1] += run_phi
            keep[i + 1] += run_keep
    time += inputs.lm_head.fixed_s * head_phi
    bank = sum(plan.option(inputs, b).bank_entries for b in bounds[1:-1]) * inputs.entry_bytes
    violated = ""
    if log_agree < inputs.min_log_agreement - tol:
        violated = (f"agreement {math.exp(log_agree):.4f} below the floor "
                    f"{inputs.min_agreement:g}")
    elif bank > inputs.bank_budget_bytes + tol:
        violated = f"bank memory {bank} B exceeds the {inputs.bank_budget_bytes:.0f} B budget"
    return Evaluation(time, log_agree, final_keep, layers, lookups, int(bank),
                      1.0 - layers / L, not violated, violated, steps)
