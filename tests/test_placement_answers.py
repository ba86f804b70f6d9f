"""The planner answers honestly: no routers when skipping cannot pay (zero hit
rates; SmolLM2 on the committed CPU cost model at 0.99), routers where they
save the most when skipping does pay, and the evaluator's time per decode
token is the simulator's at batch 1."""

from __future__ import annotations

from dataclasses import replace

import pytest
from placement_helpers import random_inputs
from sim_helpers import make_trace, run_with

from policies.placement.base import ManualPlacement, Plan
from policies.placement.evaluate import evaluate
from policies.placement.ilp_solve import solve
from policies.placement.inputs import Affine, PlanInputs, RouterOption
from policies.placement.measure import Workload, build_inputs, load_profile
from profiler.cost_model import CostModel
from skipsim.model_spec import model_spec


def test_zero_hit_rates_place_no_router():
    inputs = random_inputs(5, 12, num_options=3, batch=4)
    never = {c: tuple(replace(o, hit_prob=0.0) for o in opts) for c, opts in inputs.options.items()}
    plan, _ = solve(replace(inputs, options=never))
    assert plan.routers == ()


def _exit_everywhere(floor: float) -> PlanInputs:
    """Every candidate exits half its tokens, cheap lookups; the floor admits one router."""
    opt = lambda c: (RouterOption("x", 0.5, 0.1, ((12, 1.0),), 100, Affine(1e-6, 0.0)),)  # noqa: E731
    return PlanInputs("toy", 12, tuple(range(2, 12)), {c: opt(c) for c in range(2, 12)},
                      layer=Affine(1e-3, 0.0), step_overhead_s=0.0,
                      kv_projection=Affine(0.0, 0.0), head_s=0.0, batch=1, entry_bytes=100,
                      bank_budget_bytes=1e9, min_agreement=floor)


def test_high_hit_rates_and_cheap_lookups_place_routers_where_they_save_most():
    # one router: 0.5 log(0.9) = -0.053 >= log(0.94); a second visit breaks the floor
    plan, _ = solve(_exit_everywhere(0.94))
    assert plan.routers == (2,)  # the earliest exit skips the most layers
    plan, _ = solve(_exit_everywhere(0.0))  # no floor: a router at every candidate pays
    assert plan.routers == tuple(range(2, 12))


def test_smollm2_on_the_cpu_places_no_router_at_its_operating_batch():
    from profiler.committed import default_profile
    from simulator.components import build_cost_model

    spec = model_spec("smollm2")
    # the committed default (AMD EPYC) profile, named: `auto` would follow the machine
    cost = build_cost_model(str(default_profile("smollm2", "cpu")), spec, "cpu")
    profile, _ = load_profile(None, spec)
    assert profile.config.get("transferred_from") is None
    # ShareGPT's mean lengths; ~4 requests are in flight at 0.1 req/s on this CPU
    inputs = build_inputs(spec, cost, profile, Workload(244.0, 197.0, 0.1), 4, 16 * 2**30, 0.99)
    plan, _ = solve(inputs)
    assert plan.routers == ()
    # a lower floor does not make it pay either: a token that skips leaves its
    # group and its steps are paid by fewer tokens. The default plan at the
    # loosest point skips 6% of the layers and is still slower than no skipping
    low = replace(inputs, min_agreement=0.9)
    plan, _ = solve(low)
    assert plan.routers == ()
    skipping = ManualPlacement("8,4,4,4,4,2,2,2", "0.6").place(low)
    ev, full = evaluate(low, skipping), evaluate(low, plan)
    assert ev.skipped_fraction > 0.05 and ev.agreement > 0.9
    assert ev.time_per_token_s > full.time_per_token_s
    assert ev.block_steps_per_round > 1.5 * (len(skipping.boundaries) - 1)


class LinearCost(CostModel):
    """Closed-form times: a layer costs a + b per context token of the batch."""

    name = label = "test linear"
    step_overhead_s = 2e-4

    def block_time_s(self, num_layers, batch):
        return num_layers * (1e-3 + 2e-6 * batch.decode_context_sum + 1e-5 * batch.prefill_tokens)

    def lm_head_time_s(self, num_tokens):
        return 3e-3 if num_tokens else 0.0

    def lookup_time_s(self, bank_entries, num_queries):
        return 4e-4 + 1e-8 * bank_entries if num_queries else 0.0

    def kv_projection_time_s(self, num_tokens, num_layers):
        return 5e-5 * num_layers * num_tokens

    def skip_action_time_s(self, num_tokens, macs_per_token):
        return 0.0  # identity: no work


def test_evaluator_matches_the_simulators_time_per_decode_token_at_batch_1(monkeypatch):
    """Deterministic case: the parametric router at layer 10 always hits and skips
    one block (10 layers, K/V projected), the one at 20 never hits; one request,
    so each decode token's steps run back to back: the simulator's TPOT is the mean
    over the decode contexts P+1 .. P+n_out-1 of the evaluator's per-token time."""
    spec, cost = model_spec("smollm2"), LinearCost()
    P, n_out = 100, 40
    never = RouterOption("never", 0.0, 0.0, (), 1000, Affine(cost.lookup_time_s(1000, 1), 0.0))
    hit = RouterOption("hit", 1.0, 0.1, ((20, 1.0),), 1000,
                       Affine(cost.lookup_time_s(1000, 1), 0.0))
    inputs = build_inputs(spec, cost, _empty_profile(spec), Workload(P, n_out, None), 1,
                          16 * 2**30, 0.0, contexts=tuple(range(P + 1, P + n_out)),
                          prefill_share=False)
    inputs = replace(inputs, candidates=(10, 20), options={10: (hit,), 20: (never,)})
    ev = evaluate(inputs, Plan((0, 10, 20, 30), ("hit", "never")))
    result = run_with(cost, make_trace([0.0], [P], [n_out]), monkeypatch,
                      checkpoints="10,10,10", skip_model="parametric", bank_entries=(1000, 1000),
                      skip_options={"hit_rates": "1.0,0.0", "p_change": "0.1,0.0",
                                    "exit_prob": 0.0, "skip_config": None})
    tpot = float(result.records["tpot_s"][0])
    assert ev.time_per_token_s == pytest.approx(tpot, rel=1e-9)
    agreement = float(result.records["expected_agreement"][0])
    # the first token comes from prefill (kept); the n_out - 1 decode tokens keep 0.9 each
    assert agreement == pytest.approx((1 + (n_out - 1) * ev.agreement) / n_out, rel=1e-9)
    assert ev.agreement == pytest.approx(0.9)


def _lockstep(batch: int, hit_rate: float, n_out: int, monkeypatch):
    """`batch` equal requests at time 0 decode in lockstep (deepest-first drains
    every group of a round before the next round starts); the router at layer
    10 hits with `hit_rate` and skips block [10, 20), the one at 20 never hits.
    (the planner's inputs, the simulator's mean TPOT)."""
    spec, cost = model_spec("smollm2"), LinearCost()
    P = 100
    look = Affine(cost.lookup_time_s(1000, 1), 0.0)
    never = RouterOption("never", 0.0, 0.0, (), 1000, look)
    hit = RouterOption("hit", hit_rate, 0.1, ((20, 1.0),), 1000, look)
    inputs = build_inputs(spec, cost, _empty_profile(spec), Workload(P, n_out, None), batch,
                          16 * 2**30, 0.0, contexts=tuple(range(P + 1, P + n_out)),
                          prefill_share=False)
    inputs = replace(inputs, candidates=(10, 20), options={10: (hit,), 20: (never,)})
    result = run_with(cost, make_trace([0.0] * batch, [P] * batch, [n_out] * batch),
                      monkeypatch, checkpoints="10,10,10", skip_model="parametric",
                      bank_entries=(1000, 1000),
                      skip_options={"hit_rates": f"{hit_rate},0.0", "p_change": "0.1,0.0",
                                    "exit_prob": 0.0, "skip_config": None})
    ev = evaluate(inputs, Plan((0, 10, 20, 30), ("hit", "never")))
    return ev, result.records["tpot_s"]


def test_evaluator_matches_the_simulator_when_a_whole_batch_skips_together(monkeypatch):
    """Deterministic at B = 4: every token hits at 10, so the batch moves as one
    group (one step per block, shared by 4): TPOT = 4 × the time per token."""
    ev, tpot = _lockstep(4, 1.0, 40, monkeypatch)
    assert ev.block_steps_per_round == pytest.approx(2.0)
    assert tpot.min() == pytest.approx(tpot.max(), rel=1e-12)  # lockstep
    assert 4 * ev.time_per_token_s == pytest.approx(float(tpot[0]), rel=1e-9)


def test_a_split_batch_pays_a_step_per_group(monkeypatch):
    """B = 4, hit rate 1/2 at the first router: the stayers run block [10, 20)
    when any of them stays (1 - 2^-4) and both groups then run [20, 30) apart
    (each when not empty): 1 + 3 (1 - 2^-4) block steps a round, not 3.
    The evaluator is exact in expectation at the round's first split: the
    simulator's mean TPOT over 399 random rounds lies within 2% (0.3% seen;
    a round is 2, 3 or 4 block steps of ~25 ms)."""
    ev, tpot = _lockstep(4, 0.5, 400, monkeypatch)
    assert ev.block_steps_per_round == pytest.approx(1 + 3 * (1 - 0.5**4))
    assert 4 * ev.time_per_token_s == pytest.approx(float(tpot.mean()), rel=0.02)


@pytest.mark.parametrize("batch", [1, 2, 5, 32])
@pytest.mark.parametrize("a", [0.0, 0.01, 0.3, 0.999, 1.0])
def test_group_shares_are_the_binomial_expectations(batch, a):
    """departure_share(a) = E[1 / (1 + Bin(B - 1, a))] and stay_factor(s) =
    P(anyone of B stays), summed over the binomial directly."""
    from math import comb

    inputs = random_inputs(0, 6, batch=batch)
    direct = sum(comb(batch - 1, k) * a**k * (1 - a) ** (batch - 1 - k) / (k + 1)
                 for k in range(batch))
    assert inputs.departure_share(a) == pytest.approx(direct, rel=1e-12, abs=1e-15)
    assert inputs.stay_factor(a) == pytest.approx(1 - a**batch, rel=1e-12, abs=1e-15)


def _empty_profile(spec):
    from profiler.calibration.skip_profile import SkipProfile

    return SkipProfile("smollm2", spec.num_layers, [0, spec.num_layers], "never", "project",
                       "identity", 0.99, [], config={"calibration_tokens": 1000})
