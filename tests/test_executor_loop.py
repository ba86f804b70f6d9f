"""The executor's serving loop, on the real `ModelRunner` over a tiny random
Llama ("tiny") and on a deterministic fake runner ("fake", tests/exec_fakes.py,
whose K/V store asserts on every missing row): every request completes
exactly once with its requested token count, under every scheduler, with
chunked prefill and under preemption; scheduling never changes the tokens;
KV pages and request state are checked after every step."""

from functools import lru_cache

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from executor.config import ExecConfig
from executor.greedy import greedy_generate
from executor.serve import Executor
from executor.skip_modes import make_skip_mode
from policies.schedulers import SCHEDULERS
from simulator.config import SimConfig
from tests.exec_fakes import FakeClock, FakeRunner, FakeSetup, small_trace

LAYERS, PLAN = 6, "2,2,1,1"
RUNNERS = ("tiny", "fake")


@lru_cache(maxsize=1)
def _tiny():
    from executor.tiny import tiny_model

    return tiny_model(layers=LAYERS)


def make_runner(kind: str, pages: int):
    if kind == "fake":
        return FakeRunner(LAYERS, num_pages=pages)
    from executor.model_runner import ModelRunner

    return ModelRunner(_tiny(), pages)


def run(trace, prompts, policy="fcfs", skip="no-skip", pages=64, kv_policy="project",
        rates="0.3", exit_prob=0.2, chunked=False, max_seqs=256, free_running=False, refs=None,
        runner="fake"):
    sim = SimConfig(checkpoints=PLAN, policy=policy, kv_policy=kv_policy, max_num_seqs=max_seqs,
                    chunked_prefill=chunked, prefill_chunk_tokens=5, repair_batch_tokens=3)
    cfg = ExecConfig(sim, skip_mode=skip, free_running=free_running, check_integrity=True)
    kind, runner = runner, make_runner(runner, pages)
    if refs is None:
        refs = greedy_generate(make_runner(kind, 1000), prompts, trace.output_tokens.tolist())
    setup = FakeSetup(sim, LAYERS, capacity_blocks=pages)
    mode = make_skip_mode(skip, setup.plan, {"hit_rates": rates, "exit_prob": exit_prob},
                          {"seed": 0})
    clock = FakeClock()
    ex = Executor(trace, prompts, refs, runner, setup, cfg, mode, clock=clock, sleep=clock.sleep)
    stats = ex.run()
    return ex, stats, refs


@pytest.mark.parametrize("runner", RUNNERS)
def test_no_skip_reproduces_the_full_model_exactly(runner):
    trace, prompts = small_trace([5, 17, 3, 9], [4, 6, 1, 8])
    ex, _, refs = run(trace, prompts, runner=runner)
    assert ex.tokens == refs
    assert np.array_equal(ex.t.agree_sum, trace.output_tokens)


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("policy", sorted(SCHEDULERS))
def test_every_scheduler_yields_the_same_tokens_without_skipping(policy, runner):
    trace, prompts = small_trace([5, 17, 3, 9, 12], [4, 6, 1, 8, 3],
                                 arrivals=np.array([0.0, 0.0, 0.001, 0.002, 0.01]))
    base, _, refs = run(trace, prompts, "fcfs", runner=runner)
    ex, _, _ = run(trace, prompts, policy, refs=refs, chunked=True, runner=runner)
    assert ex.tokens == base.tokens == refs


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(1, 20), st.integers(1, 12)), min_size=1, max_size=6),
       st.sampled_from(sorted(SCHEDULERS)), st.sampled_from(["no-skip", "random"]),
       st.sampled_from(["project", "copy", "none", "repair"]), st.booleans(),
       st.integers(3, 8), st.sampled_from(RUNNERS))
def test_every_request_completes_once_with_its_token_count(reqs, policy, skip, kv_policy,
                                                          chunked, pages, runner):
    # pages >= 3 fits the longest request (32 tokens = 2 pages): small caches preempt
    prompt_lens, out_lens = [p for p, _ in reqs], [o for _, o in reqs]
    trace, prompts = small_trace(prompt_lens, out_lens)
    ex, stats, refs = run(trace, prompts, policy, skip, pages=pages, kv_policy=kv_policy,
                          chunked=chunked, runner=runner)
    t = ex.t
    assert t.done.all() and not t.running.any()
    assert t.generated.tolist() == out_lens
    assert [len(x) for x in ex.tokens] == out_lens
    assert np.all(t.finish_s >= t.first_token_s) and np.all(t.first_token_s >= t.arrival_s)
    assert ex.runner.allocator.used == 0
    decode = sum(o - 1 for o in out_lens)
    # conservation: each output token after the first ran or skipped every layer once
    # (one recomputed by a prefill after preemption counts full depth)
    assert (t.layers_executed.sum() + t.layers_skipped.sum()
            == LAYERS * decode)
    if skip == "no-skip" or policy == "no-skip":
        assert ex.tokens == refs


@pytest.mark.parametrize("runner", RUNNERS)
def test_preemption_recomputes_and_keeps_tokens(runner):
    # three 1-page prompts fill the 3 pages; growing to 2 pages each forces preemptions
    trace, prompts = small_trace([14, 14, 14], [12, 12, 12])
    ex, _, refs = run(trace, prompts, pages=3, runner=runner)
    assert ex.t.preemptions.sum() > 0
    assert ex.tokens == refs


def test_random_skipping_measures_agreement_against_the_full_model():
    trace, prompts = small_trace([6, 9, 4], [10, 10, 10])
    ex, _, refs = run(trace, prompts, "deepest-first", "random", rates="0.5", exit_prob=0.3)
    t = ex.t
    assert t.hits.sum() > 0 and t.layers_skipped.sum() > 0
    matches = sum(a == b for x, r in zip(ex.tokens, refs) for a, b in zip(x, r))
    assert t.agree_sum.sum() == matches
    kinds = {r[1] for r in ex.log.rows}
    assert {"prefill", "block", "lm_head", "kv_hole"} <= kinds
    assert all(1 <= at < 4 and at <= land <= 4 for _, _, at, land, _ in ex.decisions)


def test_requests_are_released_at_their_arrival_times():
    trace, prompts = small_trace([5, 5], [3, 3], arrivals=np.array([0.0, 5.0]))
    ex, _, _ = run(trace, prompts)
    assert ex.t.first_token_s[1] >= 5.0 > ex.t.finish_s[0]


def test_free_running_feeds_the_servers_own_tokens():
    trace, prompts = small_trace([6, 9, 4], [10, 10, 10])
    forced, _, refs = run(trace, prompts, "deepest-first", "random", rates="0.5", exit_prob=0.3)
    free, _, _ = run(trace, prompts, "deepest-first", "random", rates="0.5", exit_prob=0.3,
                     free_running=True, refs=refs)
    for i in range(3):  # both start from the same full-depth first token
        assert free.tokens[i][0] == forced.tokens[i][0] == refs[i][0]
    # free-running inputs are its own tokens: its context is prompt + what it generated
    assert all(free._context(i) == prompts[i] + free.tokens[i] for i in range(3))
    assert all(forced._context(i) == prompts[i] + refs[i] for i in range(3))


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="no CUDA device here")
def test_the_loop_on_cuda_matches_the_full_model():
    import torch

    from executor.model_runner import ModelRunner

    trace, prompts = small_trace([5, 17, 3, 9], [4, 6, 1, 8])
    sim = SimConfig(checkpoints=PLAN, policy="deepest-first")
    cfg = ExecConfig(sim, skip_mode="no-skip", torch_device="cuda", check_integrity=True)
    model = _tiny().to("cuda")
    refs = greedy_generate(ModelRunner(model, 64, "cuda"), prompts, trace.output_tokens.tolist())
    setup = FakeSetup(sim, LAYERS)
    mode = make_skip_mode("no-skip", setup.plan, {}, {"seed": 0})
    ex = Executor(trace, prompts, refs, ModelRunner(model, 64, "cuda"), setup, cfg, mode)
    ex.run()
    assert ex.tokens == refs and ex.h.device.type == "cuda"
    _tiny.cache_clear()
    torch.cuda.empty_cache()
