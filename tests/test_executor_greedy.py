"""The continuous-batching greedy loop over the runner generates what HF's
model generates greedily, however requests queue for pages and batch slots."""

import pytest
import torch

from executor.greedy import greedy_generate
from executor.model_runner import ModelRunner
from executor.tiny import tiny_model
from tests.executor_helpers import tokens

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def hf_greedy(model, prompt: list[int], n: int) -> list[int]:
    """Greedy continuation by HF's full forward over the whole sequence (no EOS stop)."""
    ids = list(prompt)
    with torch.no_grad():
        for _ in range(n):
            ids.append(int(model(torch.tensor([ids])).logits[0, -1].argmax()))
    return ids[len(prompt):]


@pytest.mark.parametrize("num_pages,max_batch", [(64, 8), (6, 8), (64, 2)])
def test_greedy_loop_equals_hf_greedy_under_any_queueing(num_pages, max_batch):
    model = tiny_model(seed=11)
    lens = [(9, 6), (30, 4), (1, 9), (17, 1), (40, 5)]  # (prompt, new tokens)
    prompts = [tokens(p, seed=20 + i).tolist() for i, (p, _) in enumerate(lens)]
    new = [n for _, n in lens]
    r = ModelRunner(model, num_pages)
    out = greedy_generate(r, prompts, new, max_batch=max_batch, check=r.check_integrity)
    assert [len(o) for o in out] == new
    for prompt, n, got in zip(prompts, new, out):
        assert got == hf_greedy(model, prompt, n)
    assert r.allocator.used == 0 and r.free_pages == num_pages  # everything returned


def test_a_request_larger_than_the_cache_is_reported():
    r = ModelRunner(tiny_model(), num_pages=2)
    with pytest.raises(RuntimeError, match="more than the cache"):
        greedy_generate(r, [tokens(40, 1).tolist()], [3])


@pytest.mark.slow
def test_real_smollm2_runner_tokens_equal_hf_generate_greedy():
    from transformers import GenerationConfig

    from skipsim.model_loader import load_model
    from traces.loaders import TraceConfig, sharegpt_trace

    model, tok = load_model("smollm2")
    trace = sharegpt_trace(TraceConfig(num_prompts=4, seed=3))
    prompts = [tok(text).input_ids[:96] for text in trace.prompt_text]
    new = [24, 16, 32, 8]
    r = ModelRunner(model, num_pages=64)
    out = greedy_generate(r, prompts, new, max_batch=4, check=r.check_integrity)
    for prompt, n, got in zip(prompts, new, out):
        cfg = GenerationConfig(max_new_tokens=n, min_new_tokens=0, do_sample=False,
                               eos_token_id=None, pad_token_id=tok.pad_token_id or 0)
        with torch.no_grad():
            ref = model.generate(torch.tensor([prompt]), generation_config=cfg)[0, len(prompt):]
        assert got == ref.tolist()
