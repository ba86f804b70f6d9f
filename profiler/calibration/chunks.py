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
stopped.
"""

from __future__ import annotations

import hashlib
import json
import time

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
                    desc: str = "record", log=None):
    """(recordings, labels, seconds spent computing) for `prompts`: the first
    `kv_prompts` (rounded up to whole chunks) keep K/V, the rest are compact."""
    from skipsim.paths import cache_dir

    folder = cache_dir("calibration", "chunks")
    recs, labels, spent = [], [], 0.0
    prefill_layers = tuple(plan.boundaries[i] for i in plan.router_checkpoints)
    bar = tqdm(total=len(prompts), desc=desc, unit="prompt", leave=False)
    for start in range(0, len(prompts), CHUNK_PROMPTS):
        part = prompts[start:start + CHUNK_PROMPTS]
        keep_kv = start < kv_prompts
        path = folder / (chunk_key(model, plan, max_skip_blocks, max_new_tokens, part, keep_kv,
                                   keep_logprobs) + ".pt")
        if path.is_file():
            r, lab = torch.load(path, weights_only=False)
        else:
            t0 = time.time()
            with torch.no_grad():
                r = record_greedy(lm, part, max_new_tokens, keep_logprobs=keep_logprobs,
                                  prefill_layers=prefill_layers if keep_kv else (),
                                  batch_size=CHUNK_PROMPTS, desc="record chunk")
                lab = [label_prompt(lm, x, plan, max_skip_blocks) for x in r]
            if not keep_kv:
                r = [compact(x) for x in r]
            spent += time.time() - t0
            tmp = path.with_suffix(".tmp")
            torch.save((r, lab), tmp)
            tmp.replace(path)
        recs += r
        labels += lab
        bar.update(len(part))
    bar.close()
    if log:
        log(f"{desc}: {len(prompts)} prompts, {sum(x.num_decode for x in recs)} decode tokens, "
            f"{spent:.0f} s computed (the rest from {folder})")
    return recs, labels, spent
