"""The calibration pipeline on the real model (slow: loads SmolLM2)."""

import numpy as np
import pytest
import torch

from policies.checkpoint_plan import CheckpointPlan
from policies.routers.bank import SkipBank

pytestmark = pytest.mark.slow

PLAN = CheckpointPlan.parse("8,4,4,4,4,6", 30)


@pytest.fixture(scope="module")
def setup():
    from profiler.calibration.decoder import LayerwiseModel
    from profiler.calibration.prompts import split_prompts
    from profiler.calibration.recording import record_greedy
    from skipsim.model_loader import load_model

    model, tok = load_model("smollm2")
    lm = LayerwiseModel(model)
    split = split_prompts(tok, 3, 1, 48, seed=0)
    recs = record_greedy(lm, split.calibration, 10, prefill_layers=(8, 12), keep_logprobs=True)
    return model, lm, split, recs


def test_layerwise_decoding_reproduces_hf_generate(setup):
    model, _, split, recs = setup
    for ids, rec in zip(split.calibration, recs):
        with torch.no_grad():
            ref = model.generate(torch.tensor([ids]), max_new_tokens=len(rec.tokens),
                                 do_sample=False)[0, len(ids):].tolist()
        assert rec.tokens == ref[:len(rec.tokens)]


def test_recording_keeps_every_decode_state_and_flags_prefill(setup):
    _, lm, split, recs = setup
    for ids, rec in zip(split.calibration, recs):
        rec.check_integrity()
        assert rec.states.shape == (len(rec.tokens) - 1, lm.num_layers + 1, lm.hidden)
        assert rec.prefill_states.shape == (len(ids), 2, lm.hidden)
        # the last boundary state read by the LM head gives the recorded greedy token
        assert (lm.logits(rec.states[:, -1]).argmax(-1) == rec.targets).all()


def test_counterfactual_without_skipping_is_the_full_model(setup):
    from profiler.calibration.counterfactual import run_from

    _, lm, _, recs = setup
    for rec in recs:
        for layer in (0, 12, 29):
            with torch.no_grad():
                h = run_from(lm, rec, rec.states[:, layer].unsqueeze(0), layer)
            assert torch.allclose(h[0], rec.states[:, -1], atol=1e-3)


def test_banks_hold_every_decode_token_with_consistent_labels(setup):
    from profiler.calibration.banks import build_examples, step_confidences
    from profiler.calibration.counterfactual import label_prompt

    _, lm, _, recs = setup
    with torch.no_grad():
        labels = [label_prompt(lm, r, PLAN, 2) for r in recs]
    examples = build_examples(PLAN, recs, labels, step_confidences(lm, recs))
    n = sum(r.num_decode for r in recs)
    for i, ex in examples.items():
        SkipBank(ex).check_integrity()
        assert len(ex) == n and ex.landings[-1] == PLAN.num_blocks
        # the exit column is "the early-exit argmax is the full model's token"
        # (up to numerical ties of the top two logits, which batched GEMMs may break apart)
        with torch.no_grad():
            logits = torch.cat([lm.logits(r.states[:, PLAN.boundaries[i]]) for r in recs])
        exit_ok = (logits.argmax(-1) == torch.cat([r.targets for r in recs])).numpy()
        top2 = logits.topk(2, -1).values
        clear = (top2[:, 0] - top2[:, 1]).numpy() > 1e-3
        assert (ex.safe[clear, -1] == exit_ok[clear]).all()
        # deltas carry the state to the landing checkpoint, rounded to float16 (half
        # an ulp: 2^-11 relative) from the float32 difference
        j = ex.landings[0]
        if j == PLAN.num_blocks:  # only the exit: nothing to carry
            assert not ex.deltas.any()
            continue
        target = torch.cat([r.states[:, PLAN.boundaries[j]] for r in recs]).numpy()
        assert np.isfinite(ex.deltas).all()
        assert np.allclose(ex.deltas[:, 0], target - ex.keys, rtol=2.0 ** -11, atol=1e-7)


def test_live_evaluation_without_skips_agrees_everywhere(setup):
    from profiler.calibration.live_eval import LiveSetup, evaluate_live

    _, lm, _, recs = setup
    res = evaluate_live(lm, recs, LiveSetup(PLAN))
    assert res.agreement == 1.0 and res.skipped_fraction == 0.0 and res.kl.max() < 1e-6


def test_live_calibration_counts_every_calibration_token(setup):
    from profiler.calibration.banks import build_examples, step_confidences
    from profiler.calibration.counterfactual import label_prompt
    from profiler.calibration.fitting import calibration_curves
    from profiler.calibration.live_calibration import LEVELS, live_level_runs

    _, lm, _, recs = setup
    with torch.no_grad():
        labels = [label_prompt(lm, r, PLAN, 2) for r in recs]
    examples = build_examples(PLAN, recs, labels, step_confidences(lm, recs))
    curves = calibration_curves("knn", examples, 3, 0)
    runs = live_level_runs(lm, recs, examples, "knn", curves, PLAN, 3, 0, 0.0001,
                           "project", "identity")
    assert [r.precision for r in runs] == list(LEVELS)     # a target of ~0 never fails
    n = sum(r.num_decode for r in recs)
    assert all(r.tokens == n for r in runs)
    # looser levels skip at least as often on these prompts as the strictest one
    assert runs[-1].skipped_fraction >= runs[0].skipped_fraction
