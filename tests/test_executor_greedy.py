"""The continuous-batching greedy loop over the runner generates what HF's
model generates greedily, however requests queue for pages and batch slots."""

import pytest
import torch

from executor.greedy import greedy_generate, hf_generate_ignoring_eos
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
    from skipsim.model_loader import load_model
    from traces.loaders import TraceConfig, sharegpt_trace

    model, tok = load_model("smollm2")
    trace = sharegpt_trace(TraceConfig(num_prompts=4, seed=3))
    prompts = [tok(text).input_ids[:96] for text in trace.prompt_text]
    new = [24, 16, 32, 8]
    r = ModelRunner(model, num_pages=64)
    out = greedy_generate(r, prompts, new, max_batch=4, check=r.check_integrity)
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    for prompt, n, got in zip(prompts, new, out):
        ids = torch.tensor([prompt])
        ref = hf_generate_ignoring_eos(model, ids, torch.ones_like(ids), n, pad)[0, len(prompt):]
        assert got == ref.tolist()


def test_hf_reference_generates_past_eos():
    model = tiny_model(seed=11)
    prompt = tokens(6, seed=1).tolist()
    first = hf_greedy(model, prompt, 3)
    model.generation_config.eos_token_id = first[0]  # the very first token ends the answer
    ids = torch.tensor([prompt])
    out = hf_generate_ignoring_eos(model, ids, torch.ones_like(ids), 3, 0)[0, 6:]
    assert out.tolist() == first
    assert model.generation_config.eos_token_id == first[0]  # restored
