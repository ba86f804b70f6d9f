"""What the planner takes from the trace: a decode token's mean context is
token-weighted, other requests' prefills cost a decode round their marginal
time in it (as the simulator batches them), and all at once the batch is no
larger than the trace."""

from __future__ import annotations

import math

import pytest
from sim_helpers import make_trace, run_with
from test_placement_answers import LinearCost, _empty_profile

from policies.placement.base import Plan
from policies.placement.evaluate import evaluate
from policies.placement.measure import Workload, build_inputs
from policies.placement.prefill import prefill_delta_s
from policies.placement.workflow import solve_at_own_batch
from skipsim.model_spec import model_spec


def test_decode_context_is_token_weighted_over_the_trace():
    """Request 1 (prompt 100, 3 tokens) decodes at contexts 101, 102; request 2
    (prompt 10, 41 tokens) at 11 .. 50: the mean decode token attends over
    (203 + 1220) / 42 tokens, not the mean request's 55 + 22 / 2 = 66."""
    w = Workload.from_trace([100, 10], [3, 41], None)
    assert w.decode_context_tokens == pytest.approx((101 + 102 + sum(range(11, 51))) / 42)
    assert w.decode_context == 34
    assert (w.mean_prompt_tokens, w.mean_output_tokens, w.num_requests) == (55.0, 22.0, 2)
    assert dict(w.prompts) == {10: 0.5, 100: 0.5}


def test_prefill_share_is_the_marginal_time_of_the_others_prefills():
    """LinearCost: a prefill of p tokens adds 30 × 1e-5 × p to a decode step (and
    nothing to the LM head's 3 ms), so at batch B the share per decode token is
    (B - 1) / (B × mean output) × 30e-5 × E[p]; nobody else at B = 1."""
    spec, cost = model_spec("smollm2"), LinearCost()
    w = Workload.from_trace([100, 300], [41, 41], 1.0)
    for batch in (1, 2, 8):
        inputs = build_inputs(spec, cost, _empty_profile(spec), w, batch, 16 * 2**30, 0.0)
        want = (batch - 1) / (batch * 41.0) * 30 * 1e-5 * 200
        assert inputs.head_s == pytest.approx(want, rel=1e-12, abs=1e-18)


def test_a_prefill_that_joins_a_decode_round_costs_it_its_marginal_time(monkeypatch):
    """The premise of the share, in the simulator: request B (prompt 50, one
    token) arrives while A decodes alone; its prefill runs in the same step as
    A's decode token, so A's decode time is its 39 batch-1 rounds (the
    evaluator's time per token at A's contexts) plus delta = 30 × 1e-5 × 50,
    not a prefill step of its own (30 ms of layer time + 3.2 ms)."""
    spec, cost = model_spec("smollm2"), LinearCost()
    P, n_out = 100, 40
    inputs = build_inputs(spec, cost, _empty_profile(spec), Workload(P, n_out, None), 1,
                          16 * 2**30, 0.0, contexts=tuple(range(P + 1, P + n_out)),
                          prefill_share=False)
    rounds_s = (n_out - 1) * evaluate(inputs, Plan((0, 30), ())).time_per_token_s
    result = run_with(cost, make_trace([0.0, 0.5], [P, 50], [n_out, 1]), monkeypatch,
                      checkpoints="30", skip_model="parametric", bank_entries=(),
                      skip_options={"hit_rates": "", "p_change": "", "exit_prob": 0.0,
                                    "skip_config": None})
    r = result.records
    decode_s = float(r["finish_time_s"][0] - r["first_token_time_s"][0])
    assert r["arrival_time_s"][1] < r["finish_time_s"][0]  # B came while A decoded
    delta = prefill_delta_s(cost, 30, 50, 1, P + 20)
    assert delta == pytest.approx(30 * 1e-5 * 50)
    assert decode_s == pytest.approx(rounds_s + delta, rel=1e-9)


def test_all_at_once_the_batch_is_at_most_the_traces_requests():
    spec, cost = model_spec("smollm2"), LinearCost()
    w = Workload.from_trace([100] * 3, [41] * 3, None)

    def inputs_at(batch, note):
        return build_inputs(spec, cost, _empty_profile(spec), w, batch, 16 * 2**30, 0.0)

    inputs, plan, _, own = solve_at_own_batch(inputs_at, w, math.inf, 256, "cbc")
    assert inputs.batch == 3 and own(plan)[0] == 3
