"""Behaviour the simulator must show by construction."""

import numpy as np
import pytest
from sim_helpers import PerTokenCost, ServiceCost, make_trace, run_with

from simulator.config import SimConfig
from simulator.events import settle
from simulator.run import simulate
from traces.loaders import TraceConfig, load_trace


def _small_trace(n=40, rate=50.0, seed=0):
    return load_trace("uniform", TraceConfig(num_prompts=n, request_rate_per_s=rate, seed=seed,
                                             prompt_tokens=128, output_tokens=48))


def test_skip_rate_zero_matches_no_skip(monkeypatch):
    """With lookups free, routers that never hit change nothing: the same
    steps, the same batches, the same latencies as the no-skip baseline."""
    trace = _small_trace()
    cost = PerTokenCost(1e-4)
    base = run_with(cost, trace, monkeypatch, policy="no-skip")
    zero = run_with(cost, trace, monkeypatch, policy="deepest-first",
                    skip_model="parametric", skip_options={"hit_rates": "0"})
    for key in ("ttft_s", "e2e_s", "finish_time_s"):
        np.testing.assert_array_equal(zero.records[key], base.records[key])
    assert zero.records["lookups"].sum() > 0 and base.records["lookups"].sum() == 0


def test_lookups_only_add_time(monkeypatch):
    trace = _small_trace()
    base = run_with(PerTokenCost(1e-4), trace, monkeypatch, policy="no-skip")
    slow = run_with(PerTokenCost(1e-4, lookup_s=1e-3), trace, monkeypatch,
                    policy="deepest-first", skip_model="parametric",
                    skip_options={"hit_rates": "0"})
    assert slow.records["e2e_s"].mean() > base.records["e2e_s"].mean()
    assert slow.records["lookup_time_s"].sum() > 0


def test_same_seed_same_outputs():
    trace = _small_trace()
    cfg = SimConfig(skip_model="parametric",
                    skip_options={"hit_rates": "0.3", "exit_prob": "0.2"}, seed=7)
    a, b = simulate(trace, cfg), simulate(trace, cfg)
    for key in a.records:
        np.testing.assert_array_equal(a.records[key], b.records[key])
    c = simulate(trace, SimConfig(skip_model="parametric",
                                  skip_options={"hit_rates": "0.3", "exit_prob": "0.2"}, seed=8))
    assert not np.array_equal(a.records["layers_skipped"], c.records["layers_skipped"])


def test_deepest_first_beats_fcfs_when_an_old_prefill_blocks_a_young_request(monkeypatch):
    """Compute-bound steps (1 ms per token per block), 3 blocks, a 100-token
    step budget. Old request A prefills 300 tokens in 100-token chunks, each
    filling a whole step; young request B (1-token prompt, 1 output token)
    arrives during A's first chunk. After that chunk, A's next chunk and B
    sit in queue 0 and cannot share a step:
    - FCFS serves the oldest request's queue, so B's token alternates with
      A's chunks: B at 300-301, A 301-401, B 401-402, A 402-502, B 502-503 ms;
    - deepest-first pushes B through first: B at 300-303 ms.
    A finishes at 903 ms either way, so the mean end-to-end latency drops."""
    trace = make_trace([0.0, 0.05], [300, 1], [1, 1])
    common = dict(checkpoints="10,10,10", skip_model="no-skip", chunked_prefill=True,
                  prefill_chunk_tokens=100, max_batched_tokens=100)
    cost = PerTokenCost(1e-3)
    fcfs = run_with(cost, trace, monkeypatch, policy="fcfs", **common).records["e2e_s"]
    deep = run_with(cost, trace, monkeypatch, policy="deepest-first", **common).records["e2e_s"]
    np.testing.assert_allclose(fcfs, [0.903, 0.503 - 0.05], atol=1e-9)
    np.testing.assert_allclose(deep, [0.903, 0.303 - 0.05], atol=1e-9)
    assert deep.mean() < fcfs.mean()


def test_same_time_arrival_joins_the_next_decision(monkeypatch):
    """events.py: a request arriving exactly when a step ends is admitted
    before the next batch is chosen, so it shares that batch."""
    trace = make_trace([0.0, 1.0], [1, 1], [3, 1])
    res = run_with(ServiceCost(0.5, exponential=False), trace, monkeypatch,
                   checkpoints="15,15", skip_model="no-skip", policy="no-skip")
    # request 0: prefill block 0 [0, .5], block 1 [.5, 1] -> token 1 at t=1;
    # request 1 arrives at t=1 and joins its decode step [1, 1.5] at block 0
    assert res.records["first_token_time_s"][1] == pytest.approx(2.0)
    assert res.engine.steps == 6


def test_settle_runs_after_events_already_due():
    import simpy

    env, order = simpy.Environment(), []

    def late():
        yield settle(env)
        order.append("decision")

    def early():
        yield env.timeout(0)
        order.append("arrival")

    env.process(early())
    env.process(late())
    env.run()
    assert order == ["arrival", "decision"]


def test_skipping_saves_layers_and_costs_agreement():
    trace = _small_trace()
    res = simulate(trace, SimConfig(skip_model="parametric",
                                    skip_options={"hit_rates": "0.5", "p_change": "0.2"}))
    r = res.records
    assert r["layers_skipped"].sum() > 0 and np.all(r["expected_agreement"] <= 1)
    assert r["expected_agreement"].mean() < 1


def test_preemption_when_the_kv_cache_is_small():
    from skipsim.model_spec import model_spec

    spec = model_spec("smollm2")
    per_token = spec.kv_bytes_per_token_per_layer * spec.num_layers
    trace = make_trace(np.zeros(6), [50] * 6, [60] * 6)
    res = simulate(trace, SimConfig(gpu_memory_bytes=spec.weight_bytes + 300 * per_token))
    assert res.records["preemptions"].sum() > 0
    np.testing.assert_array_equal(res.records["output_tokens"], trace.output_tokens)
    res.engine.kv.check_integrity()
