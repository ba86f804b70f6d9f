"""Calibration data at scale: prompts recorded and labelled in chunks, each chunk cached.

Ten times the data does not fit the one-file cache of the 48-prompt runs: a
recording keeps the full model's K/V of every layer (15 MB for a 256-token
prompt with 64 new tokens), 7 GB for 500 prompts. Only the live passes need
K/V (the held-out prompts, and the calibration prompts the live threshold
calibration decodes), so every other calibration chunk is stored compact:
decode states in float16, no K/V, no prefill states. Labels are computed
before compaction, from the float32 states and the full K/V.

A chunk is `CHUNK_PROMPTS` consecutive prompts of a split; its cache file is
keyed by everything it depends on (model, plan, skip depth, new tokens, the
prompts' token ids, what it keeps), so a run with more prompts reuses every
chunk an earlier run recorded, and an interrupted run resumes where it
stopped. Chunks are claimed before they are computed (a `.claim` file holding
the owner's pid), so several processes given the same prompts share the work:
`--record-only` run twice side by side records on two cores.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import torch
from tqdm import tqdm

from profiler.calibration.counterfactual import label_prompt
from profiler.calibration.recording import PromptRecording, record_greedy

CHUNK_PROMPTS = 16


def compact(rec: PromptRecording) -> PromptRecording:
    """The recording without K/V and prefill states, decode states in float16."""
    L, hkv, _, hd = rec.k.shape
    empty = torch.zeros(L, hkv, 0, hd)
    return PromptRecording(rec.prompt_ids, rec.tokens, rec.states.half(),
                           rec.prefill_states[:, :0], rec.prefill_layers, empty, empty.clone(),
                           rec.ref_logprobs)


def chunk_key(model: str, plan, max_skip_blocks: int, max_new_tokens: int,
              prompts: list[list[int]], keep_kv: bool, keep_logprobs: bool) -> str:
    key = json.dumps([model, list(plan.boundaries), max_skip_blocks, max_new_tokens, prompts,
                      keep_kv, keep_logprobs])
    return hashlib.sha1(key.encode()).hexdigest()[:16]


def recorded_chunks(lm, model: str, prompts: list[list[int]], plan, max_new_tokens: int,
                    max_skip_blocks: int, kv_prompts: int, keep_logprobs: bool = False,
                    desc: str = "record", log=None, keep: bool = True):
    """(recordings, labels, seconds spent computing) for `prompts`: the first
    `kv_prompts` (rounded up to whole chunks) keep K/V, the rest are compact.
    With `keep=False` (`--record-only`) the chunks are only made sure to be in
    the cache: none is loaded, and each computed one is let go once saved, so
    memory stays at one chunk's however many prompts are recorded (empty lists
    are returned)."""
    from skipsim.paths import cache_dir

    folder = cache_dir("calibration", "chunks")
    recs, labels, spent = [], [], 0.0
    prefill_layers = tuple(plan.boundaries[i] for i in plan.router_checkpoints)
    bar = tqdm(total=len(prompts), desc=desc, unit="prompt", leave=False)
    parts = []
    for start in range(0, len(prompts), CHUNK_PROMPTS):
        keep_kv = start < kv_prompts
        part = prompts[start:start + CHUNK_PROMPTS]
        path = folder / (chunk_key(model, plan, max_skip_blocks, max_new_tokens, part, keep_kv,
                                   keep_logprobs) + ".pt")
        parts.append((part, keep_kv, path))
    done: dict[Path, tuple] = {}
    while len(done) < len(parts):
        waiting = False
        for part, keep_kv, path in parts:
            if path in done:
                continue
            if path.is_file():
                done[path] = torch.load(path, weights_only=False) if keep else ([], [])
            elif _claim(path):
                t0 = time.time()
                try:
                    with torch.no_grad():
                        r = record_greedy(lm, part, max_new_tokens, keep_logprobs=keep_logprobs,
                                          prefill_layers=prefill_layers if keep_kv else (),
                                          batch_size=CHUNK_PROMPTS, desc="record chunk")
                        lab = [label_prompt(lm, x, plan, max_skip_blocks) for x in r]
                    if not keep_kv:
                        r = [compact(x) for x in r]
                    spent += time.time() - t0
                    tmp = path.with_suffix(f".{os.getpid()}.tmp")
                    torch.save((r, lab), tmp)
                    tmp.replace(path)
                finally:
                    path.with_suffix(".claim").unlink(missing_ok=True)
                done[path] = (r, lab) if keep else ([], [])
                del r, lab
            else:
                waiting = True
                continue
            bar.update(len(part))
        if waiting and len(done) < len(parts):
            time.sleep(5)  # another process is computing the chunks still missing
    for _, _, path in parts:
        recs += done[path][0]
        labels += done[path][1]
    bar.close()
    if log:
        tokens = f"{sum(x.num_decode for x in recs)} decode tokens, " if keep else ""
        log(f"{desc}: {len(prompts)} prompts, {tokens}{spent:.0f} s computed "
            f"(the rest from {folder})")
    return recs, labels, spent


def _claim(path: Path) -> bool:
    """True when this process may compute the chunk at `path`: it created the
    claim, or the claim's owner is no longer running (an interrupted run)."""
    claim = path.with_suffix(".claim")
    for _ in range(2):
        try:
            fd = os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                owner = int(claim.read_text() or "0")
                os.kill(owner, 0)
                return False
            except (ValueError, ProcessLookupError, FileNotFoundError):
                claim.unlink(missing_ok=True)  # stale: its owner died
                continue
            except PermissionError:
                return False
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        return True
    return False
