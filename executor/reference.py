"""The full model's greedy tokens for each request: what accuracy is measured against.

Computed with the same runner at full depth (prefill, then every layer for
every token, static batches that fit the KV pages, EOS ignored), once per
(model, dtype, device kind, prompt) and cached outside the repository under
`<cache>/executor/reference/`: one file per prompt holding the longest
continuation computed so far (greedy decoding is prefix-consistent, so a
shorter length reads a prefix).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from skipsim.errors import UserError

MAX_BATCH = 32


def greedy_reference(runner, prompts: list[list[int]], lengths: list[int], progress=None
                     ) -> list[list[int]]:
    """Full-depth greedy continuation of each prompt, `lengths[i]` tokens."""
    import torch

    out: list[list[int] | None] = [None] * len(prompts)
    pending = list(range(len(prompts)))
    cap, pt = runner.allocator.capacity_blocks, runner.allocator.block_tokens
    while pending:
        batch, pages = [], 0
        for i in pending:
            need = -(-(len(prompts[i]) + lengths[i]) // pt)
            if len(batch) < MAX_BATCH and pages + need <= cap:
                batch.append(i)
                pages += need
        if not batch:
            raise UserError(f"a request of {len(prompts[pending[0]]) + lengths[pending[0]]} "
                            f"tokens does not fit the KV cache ({cap * pt} tokens)")
        pending = [i for i in pending if i not in batch]
        for i in batch:
            assert runner.allocate(i, len(prompts[i]) + lengths[i])
        try:
            h = runner.prefill(batch, [torch.tensor(prompts[i]) for i in batch], [0] * len(batch))
            toks = {i: [t] for i, t in zip(batch, runner.logits(h).argmax(-1).tolist())}
            step = 1
            while True:
                live = [i for i in batch if len(toks[i]) < lengths[i]]
                if not live:
                    break
                dev = runner.device
                h = runner.embed(torch.tensor([toks[i][-1] for i in live], device=dev))
                pos = torch.tensor([len(prompts[i]) + step - 1 for i in live], device=dev)
                h = runner.decode_layers(h, live, pos, 0, runner.num_layers)
                for i, t in zip(live, runner.logits(h).argmax(-1).tolist()):
                    toks[i].append(t)
                step += 1
        finally:
            for i in batch:
                runner.free(i)
        for i in batch:
            out[i] = toks[i]
            if progress is not None:
                progress.update(1)
    return out


def _key(prompt: list[int]) -> str:
    return hashlib.sha1(np.asarray(prompt, np.int64).tobytes()).hexdigest()[:20]


def cached_reference(folder: Path, runner, prompts, lengths, progress=None) -> list[list[int]]:
    """`greedy_reference`, read from / written to `folder` per prompt."""
    folder.mkdir(parents=True, exist_ok=True)
    refs: list = [None] * len(prompts)
    missing = []
    for i, (p, n) in enumerate(zip(prompts, lengths)):
        f = folder / f"{_key(p)}.npy"
        if f.is_file():
            cached = np.load(f)
            if len(cached) >= n:
                refs[i] = cached[:n].tolist()
                if progress is not None:
                    progress.update(1)
                continue
        missing.append(i)
    if missing:
        new = greedy_reference(runner, [prompts[i] for i in missing],
                               [lengths[i] for i in missing], progress)
        for i, toks in zip(missing, new):
            refs[i] = toks
            tmp = folder / f"{_key(prompts[i])}.tmp.npy"
            np.save(tmp, np.asarray(toks, np.int64))
            tmp.replace(folder / f"{_key(prompts[i])}.npy")
    return refs
