"""A starting plan for the ILP: local search priced by the evaluator.

Branch and bound proves a plan optimal fastest when it holds a good plan
from the start (its objective is the cutoff every node is pruned against), and
CBC's own heuristics find one late on these models. This search walks from
the given plans (the no-router plan, which meets the floor and the memory
budget whenever any plan does; every candidate a router at its option that
loses least agreement; the previous solve's plan when there is one) by
single-router moves: add a router with one of its options, drop
one, or change one's option; it takes the best move that stays feasible and
lowers the evaluator's time per token; when none does, it tries moving one
router to a free candidate nearby (any option), then re-optioning two
consecutive routers together, and stops when those fail too.
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


def _single_moves(inputs: PlanInputs, cands: list, chosen: dict):
    """Add, drop or re-option one router."""
    for c in cands:
        for o in (None, *inputs.options_at(c)):
            key = None if o is None else o.key
            if chosen.get(c) != key:
                trial = {k: v for k, v in chosen.items() if k != c}
                if key is not None:
                    trial[c] = key
                yield trial


def _relocations(inputs: PlanInputs, cands: list, chosen: dict, span: int = 6):
    """Move one router to a free candidate within `span` layers, at any option."""
    for c in chosen:
        for d in cands:
            if d not in chosen and abs(d - c) <= span:
                for o in inputs.options_at(d):
                    trial = {k: v for k, v in chosen.items() if k != c}
                    trial[d] = o.key
                    yield trial


def _pair_options(inputs: PlanInputs, cands: list, chosen: dict):
    """Re-option two consecutive routers together (one lands where the other is)."""
    routers = sorted(chosen)
    for c, d in zip(routers, routers[1:]):
        for oc in inputs.options_at(c):
            for od in inputs.options_at(d):
                if (oc.key, od.key) != (chosen[c], chosen[d]):
                    yield chosen | {c: oc.key, d: od.key}


def _best_move(inputs: PlanInputs, cands: list, chosen: dict, now: float, moves):
    """(the best trial of `moves` that lowers the time, its time), or None."""
    best = None
    for trial in moves(inputs, cands, chosen):
        t = _price(inputs, trial)
        if t < (best[1] if best else now) * (1 - 1e-12):
            best = (trial, t)
    return best


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
            move = _best_move(inputs, cands, chosen, now, _single_moves)
            for wider in (_relocations, _pair_options):  # at a local optimum
                if move is None:
                    move = _best_move(inputs, cands, chosen, now, wider)
            if move is None:
                break
            chosen, now = move
        if best is None or now < best[1]:
            best = (_plan(inputs, chosen), now)
    return best
