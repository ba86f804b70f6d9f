"""A solve stopped by its time limit answers with its best plan and says how
far from optimal it may be, never with a traceback or a silent guess: the
plan is feasible, its stated time is the evaluator's, and the relaxation's
bound lies below it (`ilp_solve.SolveStats.gap_note`)."""

from __future__ import annotations

import pytest
from placement_helpers import random_inputs

from policies.placement.evaluate import evaluate
from policies.placement.ilp_solve import relaxation_s, solve
from skipsim.cli import main


def test_a_stopped_solve_returns_its_best_plan_with_the_bound_beside_it():
    # L = 80, every layer a candidate: no optimum within 60 s (benchmarks/bench_plan.py)
    inputs = random_inputs(1, 80, step=1, num_options=3, min_agreement=0.95, max_landing=6,
                           first=4)
    plan, st = solve(inputs, time_limit_s=1.0)
    assert plan is not None and not st.proved
    ev = evaluate(inputs, plan)
    assert ev.feasible
    assert ev.time_per_token_s == pytest.approx(st.objective_s, rel=1e-6)
    assert st.bound_s < st.objective_s
    note = st.gap_note(1.0)
    gap = 100 * (st.objective_s - st.bound_s) / st.bound_s
    assert "not proved optimal" in note and f"at most {gap:.2f}% above" in note


def test_a_solve_within_its_limit_is_proved_and_carries_no_bound():
    inputs = random_inputs(3, 12, step=1, num_options=2, min_agreement=0.95, max_landing=3)
    plan, st = solve(inputs, time_limit_s=60.0)
    assert st.proved and st.bound_s is None and st.gap_note(60.0) == ""
    assert relaxation_s(inputs) <= st.objective_s * (1 + 1e-9)


@pytest.mark.parametrize("value", ["-1", "nan"])
def test_a_negative_time_limit_is_one_line_and_exit_2(value, capsys):
    assert main(["plan", "--time-limit", value]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--time-limit must be 0 (no limit) or more seconds" in err[0]
