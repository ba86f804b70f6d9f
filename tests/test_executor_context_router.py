"""A context router (gbt) in the real executor, on a tiny random Llama: the
queries carry the context features, and they are the ones calibration
computes for the same states: the banks' (recorded full-model states) when
the router never fires, the live calibration's when it skips. The per-request
state the executor keeps for them lives no longer than the request runs."""

from functools import lru_cache

import numpy as np
import pytest
import torch

from executor.config import ExecConfig
from executor.model_runner import ModelRunner
from executor.routers import RouterSkipMode
from executor.serve import Executor
from policies.checkpoint_plan import CheckpointPlan
from simulator.config import SimConfig
from tests.exec_fakes import FakeClock, FakeSetup
from traces.trace import Trace

pytestmark = pytest.mark.usefixtures("one_torch_thread")
LAYERS, PLAN = 6, "1,2,1,1,1"  # one-layer blocks take h_{b-2} from the block before
PROMPT_LENS, NEW = (4, 7, 11, 6, 9, 5), 10
TOL = dict(rtol=1e-4, atol=1e-4)


@lru_cache(maxsize=1)
def _calibrated():
    """The tiny model, its full-model recordings of the prompts, their banks
    and gbt routers fitted on them, as `simulate calibrate` builds them."""
    from profiler.calibration.banks import build_examples, step_confidences
    from profiler.calibration.counterfactual import label_prompt
    from profiler.calibration.decoder import LayerwiseModel
    from profiler.calibration.fitting import fit_routers
    from profiler.calibration.recording import record_greedy
    from tests.test_counterfactual_batched import tiny_llama

    plan = CheckpointPlan.parse(PLAN, LAYERS)
    model = tiny_llama(seed=3)
    lm = LayerwiseModel(model)
    gen = torch.Generator().manual_seed(5)
    prompts = [torch.randint(0, 97, (n,), generator=gen).tolist() for n in PROMPT_LENS]
    with torch.no_grad():
        recs = record_greedy(lm, prompts, NEW)
        labels = [label_prompt(lm, r, plan, 2) for r in recs]
    examples = build_examples(plan, recs, labels, step_confidences(lm, recs))
    return model, lm, plan, prompts, recs, examples, fit_routers("gbt", examples)


def _listen(routers) -> list:
    """Every query the routers score from now on, as (checkpoint, query), in order."""
    heard = []

    def listener(at, router):
        inner = type(router).scores.__get__(router)  # not a listener set before

        def scores(query):
            heard.append((at, query))
            return inner(query)
        return scores

    for at, router in routers.items():
        router.scores = listener(at, router)
    return heard


def _execute(threshold: float, pages: int = 64, routers: dict | None = None,
             action: str = "identity", shortcuts: dict | None = None):
    """The executor over the prompts (teacher-forced on the full model's tokens),
    the gbt routers (or `routers`) at `threshold`; (executor, context rows keyed
    by (request, decode step, checkpoint), the queries' prev_cos likewise)."""
    model, _, plan, prompts, recs, _, gbt = _calibrated()
    routers = routers or gbt
    heard = _listen(routers)
    sim = SimConfig(checkpoints=PLAN, policy="deepest-first", kv_policy="project")
    cfg = ExecConfig(sim, skip_mode="router", check_integrity=True)
    setup = FakeSetup(sim, LAYERS, capacity_blocks=pages)
    mode = RouterSkipMode(routers, dict.fromkeys(routers, threshold), dict.fromkeys(routers, 0.0),
                          action, "cpu", "router: gbt (test)", shortcuts)
    assert routers is not gbt or (mode.needs_context and mode.needs_prev_state)
    n = len(prompts)
    trace = Trace(np.arange(n), np.zeros(n), np.array(PROMPT_LENS), np.full(n, NEW), [None] * n)
    clock = FakeClock()
    ex = Executor(trace, prompts, [r.tokens for r in recs], ModelRunner(model, pages), setup,
                  cfg, mode, clock=clock, sleep=clock.sleep)
    ex.run()
    ctx = np.vstack([q.context if q.context is not None else np.zeros((len(q.keys), 0))
                     for _, q in heard])
    cos = np.concatenate([q.prev_cos for _, q in heard])
    assert [at for at, q in heard for _ in q.keys] == [d[2] for d in ex.decisions]
    keys = [(rid, tok + 1, at) for rid, tok, at, _, _ in ex.decisions]
    return ex, dict(zip(keys, ctx)), dict(zip(keys, cos))


def test_a_router_that_never_fires_sees_the_banks_context_features():
    """Never skipping, the run's states are the full model's: each query's
    context (and saturation) is the bank row of the same prompt, step and checkpoint."""
    _, _, plan, _, recs, examples, _ = _calibrated()
    ex, ctx, cos = _execute(np.inf)
    assert ex.t.done.all() and ex.t.hits.sum() == 0
    first_row = np.cumsum([0] + [r.num_decode for r in recs])
    expected = {(rid, s, at): first_row[rid] + s - 1 for at in plan.router_checkpoints
                for rid, r in enumerate(recs) for s in range(1, r.num_decode + 1)}
    assert set(ctx) == set(expected)  # every decode token at every inner checkpoint
    for key, row in expected.items():
        np.testing.assert_allclose(ctx[key], examples[key[2]].context[row], **TOL)
        np.testing.assert_allclose(cos[key], examples[key[2]].prev_cos[row], **TOL)
    assert ex.context.held() == set()  # every request finished, its state went with it


def test_a_skipping_router_sees_the_live_calibrations_context_features():
    """With skips, carried states and KV holes: the executor decides as the live
    calibration (same model, teacher forcing, `project` holes), and each query's
    context equals the one the live calibration built for that token."""
    from profiler.calibration.live_eval import LiveSetup, evaluate_live

    _, lm, plan, _, recs, _, routers = _calibrated()
    threshold = 0.5
    heard = _listen(routers)
    live = evaluate_live(lm, recs, LiveSetup(plan, routers, dict.fromkeys(routers, threshold),
                                             kv_policy="project"))
    live_ctx = {(rid, s, at): row for (rid, s, at, _), row
                in zip(live.trace, np.vstack([q.context for _, q in heard]))}
    ex, ctx, _ = _execute(threshold)
    assert 0 < ex.t.hits.sum() and 0 < live.skipped_fraction < 1
    assert sorted((rid, tok + 1, at, land) for rid, tok, at, land, _ in ex.decisions) == \
        sorted(live.trace)
    assert set(ctx) == set(live_ctx)
    for key, row in live_ctx.items():
        np.testing.assert_allclose(ctx[key], row, **TOL)


def test_preempted_requests_leave_no_routing_state_behind():
    """Few pages: requests are preempted and recomputed; the executor's
    integrity check (every step) holds that only running requests keep a
    routing context, and the run completes with none kept."""
    ex, _, _ = _execute(0.5, pages=5)
    assert ex.t.done.all() and ex.t.preemptions.sum() > 0 and ex.t.hits.sum() > 0
    assert ex.context.held() == set()


def test_a_learned_shortcut_carries_the_states_the_live_calibration_carries():
    """The `shortcut` action: a skipping token's state becomes its block
    shortcut's image (fitted on the recordings, as calibration fits them), in
    the executor as in the live calibration, so both take the same decisions
    token for token; carrying the states unchanged takes other ones."""
    from profiler.calibration.live_eval import LiveSetup, evaluate_live
    from profiler.calibration.shortcuts import fit_shortcuts

    _, lm, plan, _, recs, _, routers = _calibrated()
    shortcuts = fit_shortcuts(plan, recs, 2)
    live = evaluate_live(lm, recs, LiveSetup(plan, routers, dict.fromkeys(routers, 0.5),
                                             kv_policy="project", action="shortcut",
                                             shortcuts=shortcuts))

    def decisions(ex):
        return sorted((rid, tok + 1, at, land) for rid, tok, at, land, _ in ex.decisions)

    ex, _, _ = _execute(0.5, action="shortcut", shortcuts=shortcuts)
    assert ex.t.hits.sum() > 0 and ex.t.done.all()
    assert decisions(ex) == sorted(live.trace)
    carried, _, _ = _execute(0.5)
    assert decisions(carried) != sorted(live.trace)


def test_calm_reads_the_exit_margin_in_the_executor_as_in_the_live_calibration():
    """CALM exits on the LM head's top-1 minus top-2 probability at the
    checkpoint (`step_confidence`): the executor's queries carry that margin,
    so at a threshold the banks' margins straddle it exits the tokens the
    live calibration exits."""
    from profiler.calibration.fitting import fit_routers
    from profiler.calibration.live_eval import LiveSetup, evaluate_live

    _, lm, plan, _, recs, examples, _ = _calibrated()
    routers = fit_routers("calm", examples)
    threshold = float(np.median(np.concatenate([e.exit_margin for e in examples.values()])))
    live = evaluate_live(lm, recs, LiveSetup(plan, routers, dict.fromkeys(routers, threshold),
                                             kv_policy="project"))
    ex, _, _ = _execute(threshold, routers=routers)
    assert ex.t.exits.sum() > 0 and ex.t.done.all()
    assert sorted((rid, tok + 1, at, land) for rid, tok, at, land, _ in ex.decisions) == \
        sorted(live.trace)
