"""The model runner reproduces the Hugging Face model exactly (tiny random
Llama/Qwen3, no skips): prefill + decode logits equal HF's full forward,
chunking and batching never change the math, pages are accounted by the
shared allocator and reused cleanly."""

import pytest
import torch

from executor.model_runner import ModelRunner
from executor.tiny import tiny_model
from policies.kv_hole import HoleFill
from skipsim.errors import UserError
from tests.executor_helpers import decode, prefilled, runner, tokens

TOL = dict(atol=2e-5, rtol=1e-5)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("family", ["llama", "qwen3"])
def test_prefill_then_decode_equals_hf_full_forward(family):
    model = tiny_model(family=family, seed=3)
    ids = tokens(37, seed=1)
    with torch.no_grad():
        ref = model(ids[None]).logits[0]
    r = ModelRunner(model, num_pages=8)
    assert r.allocate(0, 37)
    h = r.prefill([0], [ids[:21]], [0])
    torch.testing.assert_close(r.logits(h)[0], ref[20], **TOL)
    for p in range(21, 37):
        h = decode(r, [0], [int(ids[p])], [p])
        torch.testing.assert_close(r.logits(h)[0], ref[p], **TOL)


def test_chunked_prefill_equals_one_chunk():
    ids = tokens(45, seed=2)
    whole, chunked = runner(), runner()
    for r in (whole, chunked):
        assert r.allocate(5, 45)
    h_whole = whole.prefill([5], [ids], [0])
    for lo, hi in ((0, 16), (16, 17), (17, 45)):  # page-aligned, one token, ragged
        h_chunk = chunked.prefill([5], [ids[lo:hi]], [lo])
        chunked.check_integrity()
    torch.testing.assert_close(h_chunk, h_whole, **TOL)
    torch.testing.assert_close(chunked.kv.k, whole.kv.k, **TOL)
    torch.testing.assert_close(chunked.kv.v, whole.kv.v, **TOL)


def test_a_prefill_block_by_block_equals_one_pass():
    """The serving loop moves a prefill through the blocks one step at a time
    (`prefill_layers` with the states between): the same states and K/V as
    one full-depth pass, for a batch of ragged chunks, one a second chunk."""
    prompts = {0: tokens(30, 1), 1: tokens(3, 2), 2: tokens(17, 3)}
    whole, blocks = runner(), runner()
    for r in (whole, blocks):
        for req, ids in prompts.items():
            assert r.allocate(req, len(ids) + 8)
        r.prefill([2], [prompts[2][:9]], [0])
    reqs, ids, starts = [0, 1, 2], [prompts[0], prompts[1], prompts[2][9:]], [0, 0, 9]
    h_whole = whole.prefill(reqs, ids, starts)
    h = None
    for lo, hi in ((0, 1), (1, 3), (3, blocks.num_layers)):
        h = blocks.prefill_layers(reqs, ids, starts, lo, hi, h)
        blocks.check_integrity()
    assert h.shape[0] == 30 + 3 + 8  # every chunk token's state
    torch.testing.assert_close(h[torch.tensor([29, 32, 40])], h_whole, **TOL)
    torch.testing.assert_close(blocks.kv.k, whole.kv.k, **TOL)
    torch.testing.assert_close(blocks.kv.v, whole.kv.v, **TOL)
    with pytest.raises(ValueError, match="needs its states"):
        blocks.prefill_layers(reqs, ids, starts, 1, 2)


def test_batched_prefill_of_ragged_chunks_equals_one_at_a_time():
    prompts = {0: tokens(30, 1), 1: tokens(3, 2), 2: tokens(17, 3)}
    alone = runner()
    ref = prefilled(alone, prompts)
    batched = runner()
    for req, ids in prompts.items():
        assert batched.allocate(req, len(ids) + 8)
    # request 2 is a second chunk: its first 9 tokens were prefilled earlier
    batched.prefill([2], [prompts[2][:9]], [0])
    h = batched.prefill([0, 1, 2], [prompts[0], prompts[1], prompts[2][9:]], [0, 0, 9])
    batched.check_integrity()
    for b, req in enumerate(prompts):
        torch.testing.assert_close(h[b], ref[req], **TOL)
        toks = prompts[req][:4].tolist()
        got = decode(batched, [req], toks[:1], [len(prompts[req])])
        want = decode(alone, [req], toks[:1], [len(prompts[req])])
        torch.testing.assert_close(got, want, **TOL)


def test_batched_decode_equals_one_at_a_time_across_context_lengths():
    lens = {0: 5, 1: 33, 2: 16, 3: 1}  # inside a page, across pages, page-aligned, one token
    prompts = {req: tokens(n, seed=req) for req, n in lens.items()}
    one, many = runner(), runner()
    prefilled(one, prompts), prefilled(many, prompts)
    for step in range(6):
        reqs = [0, 1, 2, 3] if step % 2 == 0 else [3, 1]  # any subset, any order
        toks = [(7 * req + step) % 96 for req in reqs]
        pos = [lens[req] + step // 2 * 2 + (step % 2) for req in reqs]
        h_many = decode(many, reqs, toks, pos)
        for b, req in enumerate(reqs):
            torch.testing.assert_close(h_many[b:b + 1],
                                       decode(one, [req], toks[b:b + 1], pos[b:b + 1]), **TOL)


def test_decode_in_layer_ranges_equals_full_depth():
    prompts = {0: tokens(12, 4), 1: tokens(20, 5)}
    split, full = runner(), runner()
    prefilled(split, prompts), prefilled(full, prompts)
    h = split.embed(torch.tensor([3, 4]))
    for lo, hi in ((0, 2), (2, 3), (3, 6)):
        h = split.decode_layers(h, [0, 1], torch.tensor([12, 20]), lo, hi)
    torch.testing.assert_close(h, decode(full, [0, 1], [3, 4], [12, 20]), **TOL)


def test_pages_are_counted_by_the_shared_allocator_and_reused_without_stale_state():
    r = runner(num_pages=5)  # 80 token slots
    assert r.allocate(0, 33) and r.allocate(1, 16)  # 3 + 1 pages
    assert r.allocator.used == 4 and r.free_pages == 1
    assert not r.allocate(2, 17)  # needs 2 pages: refused, nothing changes
    assert r.allocator.used == 4 and r.kv.pages[2:] in ([], [[]])
    r.check_integrity()
    r.prefill([0], [tokens(33, 6)], [0])
    r.fill_holes(HoleFill.MASK, r.embed(torch.tensor([1])), [0], torch.tensor([32]), 1, 4)
    freed = list(r.kv.pages[0])
    r.free(0)
    assert r.allocator.used == 1 and r.kv.marked == [0] * r.num_layers
    r.check_integrity()
    assert r.allocate(2, 40)
    assert sorted(r.kv.pages[2]) == sorted(freed)  # the freed pages, handed out again
    ids = tokens(40, 7)
    h = r.prefill([2], [ids], [0])
    fresh = runner(num_pages=5)
    assert fresh.allocate(2, 40)
    torch.testing.assert_close(h, fresh.prefill([2], [ids], [0]), **TOL)
    r.check_integrity()


def test_writing_past_the_allocated_pages_is_refused():
    r = runner()
    assert r.allocate(0, 16)
    r.prefill([0], [tokens(16, 8)], [0])
    with pytest.raises(ValueError, match="allocate first"):
        decode(r, [0], [1], [16])


def test_check_integrity_catches_a_non_finite_row_and_a_lost_page():
    r = runner()
    prefilled(r, {0: tokens(10, 9)})
    row = r.kv.pages[0][0] * r.page_tokens + 3
    r.kv.k_rows[2, row, 0, 0] = float("nan")
    with pytest.raises(AssertionError, match="non-finite K"):
        r.check_integrity()
    r.kv.k_rows[2, row, 0, 0] = 0.0
    r.check_integrity()
    r.kv.pages[0].append(r.kv.pages[0][0])
    with pytest.raises(AssertionError, match="block table"):
        r.check_integrity()


def test_a_model_outside_the_llama_and_qwen_families_is_refused():
    from transformers import GPT2Config, GPT2LMHeadModel

    model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=50))
    with pytest.raises(UserError, match="not supported"):
        ModelRunner(model, num_pages=4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
def test_cuda_runner_matches_the_cpu_runner():
    model = tiny_model(seed=5)
    prompts = {0: tokens(19, 1), 1: tokens(40, 2)}
    cpu, gpu = ModelRunner(model, 16), ModelRunner(model, 16, device="cuda")
    h_cpu, h_gpu = prefilled(cpu, prompts), prefilled(gpu, prompts)
    for req in prompts:
        torch.testing.assert_close(h_gpu[req].cpu(), h_cpu[req], atol=1e-4, rtol=1e-4)
    out_gpu = decode(gpu, [0, 1], [3, 4], [19, 40])
    torch.testing.assert_close(gpu.logits(out_gpu).cpu(),
                               cpu.logits(decode(cpu, [0, 1], [3, 4], [19, 40])),
                               atol=1e-4, rtol=1e-4)
