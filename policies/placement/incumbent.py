"""A starting plan for the ILP: local search priced by the evaluator.

Branch and bound proves a plan optimal fastest when it holds a good plan
from the start (its objective is the cutoff every node is pruned against), and
CBC's own heuristics find one late on these models. This search walks from
the given plans (the no-router plan, which meets the floor and the memory
budget whenever any plan does, and the previous solve's plan when there is
one) by single-router moves: add a router with one of its options, drop
one, or change one's option; it takes the best move that stays feasible and
lowers the evaluator's time per token, until none does (a local optimum).
It only seeds the solver: the ILP still proves the optimum, so the search
needs no guarantee.
"""

from __future__ import annotations

from policies.placement.base import Plan
from policies.placement.evaluate import evaluate
from policies.placement.inputs import PlanInputs


def _plan(inputs: PlanInputs, chosen: dict) -> Plan:
    layers = sorted(chosen)
    return Plan((0, *layers, inputs.num_layers), tuple(chosen[c] for c in layers))


def _price(inputs: PlanInputs, chosen: dict) -> float:
    ev = evaluate(inputs, _plan(inputs, chosen))
    return ev.time_per_token_s if ev.feasible else float("inf")


def local_search(inputs: PlanInputs, starts: tuple[Plan, ...] = (),
                 max_rounds: int = 200) -> tuple[Plan, float] | None:
    """(the best local optimum reached, its time per token); None when no start is
    feasible."""
    cands = [c for c in inputs.candidates if inputs.options_at(c)]
    best = None
    # every candidate a router, each at its option losing least agreement: a skip
    # needs checkpoints past it to land at, which single additions to the empty
    # plan cannot see
    safest = _plan(inputs, {c: min(inputs.options_at(c),
                                   key=lambda o: -o.hit_prob * o.log_keep).key
                            for c in cands})
    seeds = [Plan((0, inputs.num_layers), ()), *starts, safest]
    for seed in seeds:
        chosen = {c: k for c, k in zip(seed.routers, seed.option_keys)
                  if c in cands and inputs.option_named(c, k) is not None}
        chosen = {c: inputs.option_named(c, k).key for c, k in chosen.items()}
        now = _price(inputs, chosen)
        if now == float("inf"):
            continue
        for _ in range(max_rounds):
            move, move_t = None, now
            for c in cands:
                for o in (None, *inputs.options_at(c)):
                    key = None if o is None else o.key
                    if chosen.get(c) == key:
                        continue
                    trial = dict(chosen)
                    if key is None:
                        del trial[c]
                    else:
                        trial[c] = key
                    t = _price(inputs, trial)
                    if t < move_t * (1 - 1e-12):
                        move, move_t = trial, t
            if move is None:
                break
            chosen, now = move, move_t
        if best is None or now < best[1]:
            best = (_plan(inputs, chosen), now)
    return best
