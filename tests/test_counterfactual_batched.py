"""Batched counterfactual labels equal the one-at-a-time labels.

`label_prompt` runs every decode token of a prompt at once, each attending
to the full model's K/V of the earlier positions and to its own; the
reference runs each (token, checkpoint, landing) alone through the decoder's
ordinary decode path. On a tiny random Llama (fast) and on SmolLM2 (slow)
the two must agree on every label.
"""

import pytest
import torch

from policies.checkpoint_plan import CheckpointPlan
from profiler.calibration.counterfactual import label_prompt, label_token_by_token


def tiny_llama(seed: int = 0, vocab: int = 97):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=6,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                      eos_token_id=None, bos_token_id=None, tie_word_embeddings=False)
    return LlamaForCausalLM(cfg).eval()


def _assert_same_labels(lm, recs, plan, max_skip):
    compared = 0
    for rec in recs:
        batched = label_prompt(lm, rec, plan, max_skip)
        alone = label_token_by_token(lm, rec, plan, max_skip)
        for i, safe in alone.items():
            assert torch.equal(batched.safe[i], safe), f"checkpoint {i}"
            compared += safe.numel()
    return compared


def test_batched_labels_equal_token_by_token_labels_on_a_tiny_llama():
    from profiler.calibration.decoder import LayerwiseModel
    from profiler.calibration.recording import record_greedy

    lm = LayerwiseModel(tiny_llama())
    gen = torch.Generator().manual_seed(1)
    prompts = [torch.randint(0, 97, (n,), generator=gen).tolist() for n in (5, 9, 13)]
    plan = CheckpointPlan.parse("2,1,1,1,1", 6)
    with torch.no_grad():
        recs = record_greedy(lm, prompts, 12)
    compared = _assert_same_labels(lm, recs, plan, 2)
    assert compared == sum(r.num_decode for r in recs) * (3 + 3 + 2 + 1)
    # random weights give both safe and unsafe skips, so the comparison can fail
    labels = torch.cat([label_prompt(lm, r, plan, 2).safe[1].flatten() for r in recs])
    assert labels.any() and not labels.all()


@pytest.mark.slow
def test_batched_labels_equal_token_by_token_labels_on_smollm2():
    from profiler.calibration.decoder import LayerwiseModel
    from profiler.calibration.prompts import split_prompts
    from profiler.calibration.recording import record_greedy
    from skipsim.model_loader import load_model

    model, tok = load_model("smollm2")
    lm = LayerwiseModel(model)
    split = split_prompts(tok, 2, 0, 32, seed=0)
    plan = CheckpointPlan.parse("8,4,4,4,4,6", 30)
    with torch.no_grad():
        recs = record_greedy(lm, split.calibration, 6)
    assert _assert_same_labels(lm, recs, plan, 2) > 0
