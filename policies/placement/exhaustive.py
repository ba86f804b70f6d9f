"""Exhaustive search: every subset of candidates × every option at each router,
priced by the independent evaluator. Exponential; for small instances (the
tests prove the ILP against it at L <= 12)."""

from __future__ import annotations

from itertools import combinations, product

from policies.placement.base import Placement, Plan, register_placement
from policies.placement.evaluate import evaluate
from policies.placement.inputs import PlanInputs


def all_plans(inputs: PlanInputs):
    cands = [c for c in inputs.candidates if inputs.options_at(c)]
    for n in range(len(cands) + 1):
        for chosen in combinations(cands, n):
            for opts in product(*(inputs.options_at(c) for c in chosen)):
                yield Plan((0, *chosen, inputs.num_layers), tuple(o.key for o in opts))


def best_by_search(inputs: PlanInputs) -> tuple[Plan | None, float]:
    """(the feasible plan of least time per token, its time); (None, inf) if none."""
    best, best_t = None, float("inf")
    for plan in all_plans(inputs):
        ev = evaluate(inputs, plan)
        if ev.feasible and ev.time_per_token_s < best_t:
            best, best_t = plan, ev.time_per_token_s
    return best, best_t


@register_placement("exhaustive")
class ExhaustivePlacement(Placement):
    def place(self, inputs: PlanInputs) -> Plan:
        plan, _ = best_by_search(inputs)
        if plan is None:
            raise ValueError("no feasible plan")
        return plan
