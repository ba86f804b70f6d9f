"""Context features of `policies/routers/features.py`: closed forms, and one the
learned routers must find when it alone separates safe from unsafe skips."""

import numpy as np
import torch

from policies.routers.base import SkipExamples, decide, make_router
from policies.routers.features import (
    CONTEXT_FEATURES,
    STEP_CONFIDENCE,
    context_features,
    previous_steps,
    sequence_running,
    step_confidence,
)


def _confidence(logp: np.ndarray) -> np.ndarray:
    return step_confidence(torch.from_numpy(logp)).numpy()


def test_step_confidence_is_top1_margin_and_entropy_of_each_softmax():
    """Closed forms, in float64 and in the callers' float32; a word of
    probability 0 (log-probability -inf) adds 0 log 0 = 0, not NaN."""
    p = np.array([[0.7, 0.2, 0.1], [0.25, 0.25, 0.5], [1.0, 0.0, 0.0]])
    with np.errstate(divide="ignore"):
        logp = np.log(p)
    entropy = [-(0.7 * np.log(0.7) + 0.2 * np.log(0.2) + 0.1 * np.log(0.1)),
               -(0.5 * np.log(0.25) + 0.5 * np.log(0.5)), 0.0]
    want = np.column_stack([[0.7, 0.5, 1.0], [0.5, 0.25, 1.0], entropy])
    np.testing.assert_allclose(_confidence(logp), want, atol=1e-12)
    np.testing.assert_allclose(_confidence(logp.astype(np.float32)), want, atol=1e-6)
    one_word = _confidence(np.zeros((2, 1)))  # a vocabulary of one: certain, no runner-up
    np.testing.assert_array_equal(one_word, [[1.0, 1.0, 0.0]] * 2)


def test_each_step_reads_the_previous_steps_confidence_and_the_first_reads_zeros():
    conf = np.arange(12.0).reshape(4, 3)
    prev = previous_steps(conf)
    np.testing.assert_array_equal(prev[0], 0.0)
    np.testing.assert_array_equal(prev[1:], conf[:-1])
    assert previous_steps(conf[:0]).shape == (0, STEP_CONFIDENCE)


def test_context_features_end_with_the_previous_steps_confidence():
    rng = np.random.default_rng(0)
    h, h1, h2 = (rng.normal(size=(5, 8)) for _ in range(3))
    last = rng.random((5, STEP_CONFIDENCE))
    ctx = context_features(h, h1, h2, np.arange(1, 6), np.zeros(5), np.zeros(5), last)
    assert ctx.shape == (5, len(CONTEXT_FEATURES))
    np.testing.assert_allclose(ctx[:, -STEP_CONFIDENCE:], last, rtol=1e-6)
    np.testing.assert_allclose(ctx[:, 3], np.log1p(np.arange(1, 6)), rtol=1e-6)


def test_learned_routers_skip_after_a_confident_step_when_only_that_tells():
    """Hidden states carry no signal; a skip is safe exactly when the previous
    step's top-1 probability was high, as along a memorised phrase. Built from
    softmaxes through `step_confidence` and `previous_steps`, as calibration does."""
    rng = np.random.default_rng(1)

    def data(prompts, steps=20, d=16, vocab=50):
        ctx, safe = [], []
        for _ in range(prompts):
            peaked = rng.random(steps) < 0.5
            logits = rng.normal(0, 1, (steps, vocab))
            logits[peaked, 0] += 12.0   # a confident step
            logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
            prev = previous_steps(_confidence(logp))
            h, h1, h2 = (rng.normal(size=(steps, d)) for _ in range(3))
            ctx.append(context_features(h, h1, h2, np.arange(1, steps + 1), rng.random(steps),
                                        rng.random(steps), prev))
            safe.append(prev[:, 0] > 0.5)
        ctx, ok = np.vstack(ctx), np.concatenate(safe)
        n = len(ok)
        keys = rng.normal(0, 1, (n, d)).astype(np.float32)
        return SkipExamples(1, (2, 3), keys, rng.random(n), np.zeros(n),
                            np.stack([ok, ok & (rng.random(n) < 0.5)], 1),
                            np.zeros((n, 2, d), np.float16), np.arange(n) // steps, ctx), ok

    train, _ = data(80)
    test, ok = data(30)
    for name in ("gbt", "mlp"):
        chosen = decide(make_router(name, train).scores(test.query), 0.5)
        assert np.mean((chosen >= 0) == ok) > 0.95, name


def test_live_decoding_feeds_a_learned_router_the_banks_features():
    """The live queries carry every context feature the banks were built with
    (gbt refuses a query of another width): the previous step's confidence
    comes from the live run's own softmax. Never skipping keeps every token;
    a threshold of 0 skips."""
    import torch

    from policies.checkpoint_plan import CheckpointPlan
    from profiler.calibration.banks import build_examples, step_confidences
    from profiler.calibration.counterfactual import label_prompt
    from profiler.calibration.decoder import LayerwiseModel
    from profiler.calibration.fitting import fit_routers
    from profiler.calibration.live_eval import LiveSetup, evaluate_live
    from profiler.calibration.recording import record_greedy
    from tests.test_counterfactual_batched import tiny_llama

    plan = CheckpointPlan.parse("2,1,1,1,1", 6)
    lm = LayerwiseModel(tiny_llama(seed=3))
    gen = torch.Generator().manual_seed(5)
    prompts = [torch.randint(0, 97, (n,), generator=gen).tolist() for n in (4, 7, 11, 6, 9, 5)]
    with torch.no_grad():
        recs = record_greedy(lm, prompts, 10, keep_logprobs=True)
        labels = [label_prompt(lm, r, plan, 2) for r in recs]
    examples = build_examples(plan, recs, labels, step_confidences(lm, recs))
    assert all(ex.context.shape[1] == len(CONTEXT_FEATURES) for ex in examples.values())
    routers = fit_routers("gbt", examples)
    never = evaluate_live(lm, recs, LiveSetup(plan, routers, {i: np.inf for i in routers}))
    assert never.agreement == 1.0 and never.skipped_fraction == 0.0
    always = evaluate_live(lm, recs, LiveSetup(plan, routers, {i: 0.0 for i in routers}))
    assert always.skipped_fraction > 0.0


def test_live_context_one_step_at_a_time_equals_the_offline_sequence_features():
    """Two sequences interleaved at two checkpoints, one decode step at a time
    (`LiveContext`, as live decoding and the executor keep them), give each
    sequence the features its whole recording gives at once (`sequence_running`,
    `previous_steps`); a dropped sequence starts over as at its first step."""
    from policies.routers.live_context import LiveContext

    rng = np.random.default_rng(4)
    steps, d, vocab = 7, 5, 11
    seqs = {s: dict(h=rng.normal(size=(3, steps, d)), cos=rng.uniform(-1, 1, (2, steps)),
                    logp=np.log(rng.dirichlet(np.ones(vocab), steps))) for s in (10, 20)}
    live, got = LiveContext(), {(s, at): [] for s in seqs for at in (0, 1)}
    for t in range(steps):
        for at in (0, 1):
            for s in (20, 10) if t % 2 else (10, 20):
                x = seqs[s]
                got[s, at].append(live.features(at, [s], np.array([t + 1]), *x["h"][:, t:t + 1],
                                                x["cos"][at, t:t + 1])[0])
        live.record_step(np.array([10, 20]),
                         _confidence(np.vstack([seqs[s]["logp"][t] for s in (10, 20)])))
    for (s, at), rows in got.items():
        x = seqs[s]
        want = context_features(*x["h"], np.arange(1, steps + 1), *sequence_running(x["cos"][at]),
                                previous_steps(_confidence(x["logp"])))
        np.testing.assert_allclose(np.array(rows), want, rtol=1e-6)
    assert live.held() == {10, 20}
    live.drop(10)
    x = seqs[10]
    again = live.features(0, [10], np.array([1]), *x["h"][:, :1], x["cos"][0, :1])
    first = context_features(*x["h"][:, :1], np.array([1]), x["cos"][0, :1], x["cos"][0, :1],
                             np.zeros((1, STEP_CONFIDENCE)))
    np.testing.assert_allclose(again, first, rtol=1e-6)
