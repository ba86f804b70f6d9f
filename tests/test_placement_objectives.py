"""The second objective and the second solver are exact too: `--objective
throughput` picks the batch and plan of most tokens per second under the
TPOT SLO that exhaustive search over batches and plans finds, and
`--solver highs` reaches the same optimum as CBC and exhaustive search."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from placement_helpers import random_inputs

from policies.placement.evaluate import evaluate
from policies.placement.exhaustive import all_plans, best_by_search
from policies.placement.ilp_solve import solve
from policies.placement.workflow import best_throughput
from skipsim.errors import UserError

MAX_SEQS = 16


def _instances(seed: int, num_layers: int):
    """inputs_at(batch, note) as `workflow` calls it: one instance, priced at each batch."""
    return lambda batch, note: random_inputs(seed, num_layers, step=1, num_options=2,
                                             batch=batch, min_agreement=0.97, max_landing=3)


def _best_by_search(inputs_at, slo_s: float) -> tuple[int, float] | None:
    """(batch, time per token) of most throughput with B x time <= SLO, by enumeration."""
    best = None
    batch = 1
    while batch <= MAX_SEQS:
        inputs = inputs_at(batch, "")
        for plan in all_plans(inputs):
            ev = evaluate(inputs, plan)
            t = ev.time_per_token_s
            if ev.feasible and batch * t <= slo_s * (1 + 1e-9) and (best is None or t < best[1]):
                best = (batch, t)
        batch *= 2
    return best


@settings(max_examples=5, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), num_layers=st.integers(5, 8),
       slo_fraction=st.sampled_from([0.3, 0.6, 1.0]))
def test_throughput_objective_equals_search_over_batches_and_plans(seed, num_layers,
                                                                    slo_fraction):
    inputs_at = _instances(seed, num_layers)
    # SLOs between the fastest batch-1 round and the slowest full batch: the cap binds
    no_skip = [b * best_by_search(inputs_at(b, ""))[1] for b in (1, MAX_SEQS)]
    slo_s = no_skip[0] + slo_fraction * (no_skip[1] - no_skip[0])
    expected = _best_by_search(inputs_at, slo_s)
    inputs, plan, stats = best_throughput(inputs_at, slo_s, MAX_SEQS, "cbc")
    ev = evaluate(inputs, plan)
    assert ev.feasible and inputs.batch * ev.time_per_token_s <= slo_s * (1 + 1e-7)
    assert ev.time_per_token_s == pytest.approx(expected[1], rel=1e-7)
    assert stats.objective_s == pytest.approx(ev.time_per_token_s, rel=1e-7)


def test_throughput_objective_names_the_slo_it_cannot_meet():
    inputs_at = _instances(1, 6)
    fastest = best_by_search(inputs_at(1, ""))[1]
    with pytest.raises(UserError, match="TPOT SLO .* cannot be met"):
        best_throughput(inputs_at, 0.5 * fastest, MAX_SEQS, "cbc")


@settings(max_examples=6, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), num_layers=st.integers(5, 10),
       batch=st.sampled_from([1, 8]), floor=st.sampled_from([0.0, 0.97]),
       budget_entries=st.sampled_from([float("inf"), 9000.0]))
def test_highs_reaches_the_optimum_of_cbc_and_exhaustive_search(seed, num_layers, batch,
                                                                floor, budget_entries):
    pytest.importorskip("highspy")
    inputs = random_inputs(seed, num_layers, step=1 if num_layers <= 8 else 2, num_options=2,
                           batch=batch, min_agreement=floor,
                           bank_budget_entries=budget_entries, max_landing=3)
    plan, stats = solve(inputs, "highs")
    _, cbc = solve(inputs, "cbc")
    _, best_t = best_by_search(inputs)
    assert evaluate(inputs, plan).feasible
    assert stats.objective_s == pytest.approx(best_t, rel=1e-7)
    assert cbc.objective_s == pytest.approx(best_t, rel=1e-7)
