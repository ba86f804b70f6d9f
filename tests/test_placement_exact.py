"""The placement ILP is exact: its optimum equals exhaustive search on small
random instances and the exact dynamic program at L = 30, and its objective
equals the independent evaluator's on the plan it returns."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from placement_helpers import random_inputs

from policies.placement.base import Plan
from policies.placement.dp import solve_dp
from policies.placement.evaluate import evaluate
from policies.placement.exhaustive import best_by_search
from policies.placement.ilp_solve import solve
from policies.placement.incumbent import local_search


@settings(max_examples=6, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), num_layers=st.integers(5, 12),
       batch=st.sampled_from([1, 8]), floor=st.sampled_from([0.0, 0.96, 0.99]),
       budget_entries=st.sampled_from([float("inf"), 9000.0]))
def test_ilp_optimum_equals_exhaustive_search(seed, num_layers, batch, floor, budget_entries):
    step = 1 if num_layers <= 8 else 2  # keeps 3^candidates plans enumerable
    inputs = random_inputs(seed, num_layers, step=step, num_options=2, batch=batch,
                           min_agreement=floor, bank_budget_entries=budget_entries,
                           max_landing=3)
    plan, stats = solve(inputs)
    best, best_t = best_by_search(inputs)
    ev = evaluate(inputs, plan)
    assert ev.feasible
    assert stats.objective_s == pytest.approx(ev.time_per_token_s, rel=1e-7)
    assert ev.time_per_token_s == pytest.approx(best_t, rel=1e-7)


@pytest.mark.parametrize("seed,batch", [(0, 1), (1, 16)])
def test_ilp_optimum_equals_exact_dp_at_30_layers(seed, batch):
    # candidates every second layer from 4, landings up to 4 layers or an exit (the
    # shape of the committed SmolLM2 profiles); no bank budget, which keeps the
    # DP's labels few (the budget is proved against exhaustive search above)
    inputs = random_inputs(seed, 30, step=2, num_options=2, batch=batch, min_agreement=0.95,
                           max_landing=4, first=4)
    plan, stats = solve(inputs)
    dp_plan, dp_t = solve_dp(inputs)
    assert evaluate(inputs, dp_plan).time_per_token_s == pytest.approx(dp_t, rel=1e-9)
    assert stats.objective_s == pytest.approx(dp_t, rel=1e-7)
    assert evaluate(inputs, plan).feasible and evaluate(inputs, dp_plan).feasible


def test_log_agreement_floor_bounds_expected_agreement():
    """exp(E[log keep]) <= E[keep] (Jensen): the linear floor is conservative."""
    inputs = random_inputs(3, 20, step=1, num_options=2, batch=1, min_agreement=0.9)
    plan, _ = solve(inputs)
    ev = evaluate(inputs, plan)
    assert math.exp(ev.log_agreement) >= 0.9 - 1e-9
    assert ev.agreement >= math.exp(ev.log_agreement) - 1e-12


@pytest.mark.parametrize("seed,batch", [(5, 1), (6, 8)])
def test_warm_start_never_changes_the_optimum(seed, batch):
    """The solver starts from the local search's plan (here seeded with the worst
    plan it can be given: every candidate at its riskiest option); the optimum is
    still exhaustive search's, and the start is never better than it."""
    inputs = random_inputs(seed, 10, step=1, num_options=2, batch=batch, min_agreement=0.96,
                           bank_budget_entries=30000.0, max_landing=3)
    cands = [c for c in inputs.candidates if inputs.options_at(c)]
    risky = Plan((0, *cands, 10), tuple(max(inputs.options_at(c), key=lambda o: o.error_prob).key
                                        for c in cands))
    start = local_search(inputs, (risky,))
    plan, stats = solve(inputs, start=risky)
    _, best_t = best_by_search(inputs)
    assert stats.objective_s == pytest.approx(best_t, rel=1e-7)
    assert evaluate(inputs, start[0]).feasible
    assert start[1] == pytest.approx(evaluate(inputs, start[0]).time_per_token_s, rel=1e-12)
    assert start[1] >= best_t * (1 - 1e-9)
