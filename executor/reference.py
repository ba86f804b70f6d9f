"""The full model's greedy tokens for each request: what accuracy is measured against.

Computed with the same runner at full depth (`executor.greedy.greedy_generate`:
continuous batching, every layer for every token, EOS ignored), once per
(model, dtype, device kind, prompt) and cached outside the repository under
`<cache>/executor/reference/`: one file per prompt holding the longest
continuation computed so far (greedy decoding is prefix-consistent, so a
shorter length reads a prefix).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

MAX_BATCH = 32


def _key(prompt: list[int]) -> str:
    return hashlib.sha1(np.asarray(prompt, np.int64).tobytes()).hexdigest()[:20]


def cached_reference(folder: Path, runner, prompts, lengths, progress=None) -> list[list[int]]:
    """The full model's greedy continuation of each prompt, `lengths[i]`
    tokens, read from / written to `folder` per prompt."""
    from executor.greedy import greedy_generate

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
        new = greedy_generate(runner, [prompts[i] for i in missing],
                              [lengths[i] for i in missing], MAX_BATCH)
        for i, toks in zip(missing, new):
            if progress is not None:
                progress.update(1)
            refs[i] = toks
            tmp = folder / f"{_key(prompts[i])}.tmp.npy"
            np.save(tmp, np.asarray(toks, np.int64))
            tmp.replace(folder / f"{_key(prompts[i])}.npy")
    return refs
