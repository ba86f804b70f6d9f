"""A plain continuous-batching greedy generator over a `ModelRunner`, with no
skipping: the reference loop of the slow equivalence test and of
`benchmarks/bench_executor.py` (the serving loop with schedulers, skips and
records is `executor/serve.py`).

Each step admits waiting requests while pages and `max_batch` allow and
prefills them together (one batched call, each prompt in one chunk), then runs
one full-depth decode step over every running request; a request leaves when
it has produced its `max_new[i]` tokens (EOS is ignored, as in vLLM's serving
benchmark), and its pages go to the next one. `hf_generate_ignoring_eos` is the
HF side of the same comparison.
"""

from __future__ import annotations

from collections import deque

import torch


def greedy_generate(runner, prompts: list[list[int]], max_new: list[int],
                    max_batch: int = 32, check=None) -> list[list[int]]:
    """Generated token ids of every prompt; `check()` runs after every step
    (tests pass `runner.check_integrity`)."""
    L = runner.num_layers
    out: list[list[int]] = [[] for _ in prompts]
    waiting = deque(i for i in range(len(prompts)) if max_new[i] > 0)
    running: list[int] = []
    length = [len(p) for p in prompts]  # tokens whose K/V is (or is being) written
    while waiting or running:
        admitted = []
        while waiting and len(running) + len(admitted) < max_batch:
            i = waiting[0]
            need = length[i] + max_new[i] - 1  # the last token is never fed back
            if not runner.allocate(i, need):
                if not running and not admitted:
                    raise RuntimeError(f"request {i} needs {need} tokens of KV: "
                                       "more than the cache")
                break
            admitted.append(waiting.popleft())
        if admitted:
            h = runner.prefill(admitted, [torch.tensor(prompts[i]) for i in admitted],
                               [0] * len(admitted))
            for i, t in zip(admitted, runner.logits(h).argmax(-1).tolist()):
                out[i].append(t)
                if len(out[i]) < max_new[i]:
                    running.append(i)
                else:
                    runner.free(i)
        if check:
            check()
        if not running:
            continue
        tokens = torch.tensor([out[i][-1] for i in running])
        positions = torch.tensor([length[i] + len(out[i]) - 1 for i in running])
        h = runner.decode_layers(runner.embed(tokens), running, positions, 0, L)
        for i, t in zip(running, runner.logits(h).argmax(-1).tolist()):
            out[i].append(t)
        done = [i for i in running if len(out[i]) >= max_new[i]]
        for i in done:
            runner.free(i)
        running = [i for i in running if len(out[i]) < max_new[i]]
        if check:
            check()
    return out


def hf_generate_ignoring_eos(model, input_ids, attention_mask, max_new_tokens: int,
                             pad_token_id: int) -> torch.Tensor:
    """HF `generate`, greedy, exactly `max_new_tokens` new tokens per row.

    An explicit `eos_token_id=None` in a GenerationConfig is read as "unset"
    and replaced by the model's own EOS, so generation would stop there;
    the model's default is switched off for the call instead."""
    from transformers import GenerationConfig

    gen = model.generation_config
    saved = gen.eos_token_id
    gen.eos_token_id = None
    try:
        cfg = GenerationConfig(max_new_tokens=max_new_tokens, min_new_tokens=0, do_sample=False,
                               pad_token_id=pad_token_id)
        with torch.inference_mode():
            out = model.generate(input_ids, attention_mask=attention_mask, generation_config=cfg)
    finally:
        gen.eos_token_id = saved
    assert out.shape[1] == input_ids.shape[1] + max_new_tokens, "HF generate stopped early"
    return out
