"""Greedy decoding with the full model, recording what the counterfactuals need.

For each prompt: prefill at full depth, then greedy decode a batch of prompts
together (one token per prompt per step) until EOS or `max_new_tokens`. Token
y_0 comes from the prefill; decode step s >= 1 feeds y_{s-1} at position
P + s - 1 and predicts y_s. For every decode step we keep the hidden state at
every layer boundary (h_0 = embedding ... h_L = last layer output), and for
the prompt tokens the states at the requested boundaries, flagged as prefill.
The full model's KV cache is kept too: counterfactual skips attend to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from profiler.calibration.decoder import LayerwiseModel


@dataclass
class PromptRecording:
    """One prompt's full-model greedy decode. T = decode steps (generated tokens - 1)."""

    prompt_ids: list[int]
    tokens: list[int]                 # y_0 .. y_T, the full model's greedy tokens
    # [T, L+1, d]: decode step s=1..T, input of each layer + output
    states: torch.Tensor
    prefill_states: torch.Tensor      # [P, len(prefill_layers), d] float16, flagged prefill
    prefill_layers: tuple[int, ...]
    k: torch.Tensor                   # [L, Hkv, P+T, hd] the full model's keys
    v: torch.Tensor
    ref_logprobs: torch.Tensor | None = field(default=None)  # [T, V] log-softmax of the full model

    @property
    def prompt_len(self) -> int:
        return len(self.prompt_ids)

    @property
    def num_decode(self) -> int:
        return self.states.shape[0]

    @property
    def targets(self) -> torch.Tensor:
        """The full model's token predicted at each decode step (y_1 .. y_T)."""
        return torch.tensor(self.tokens[1:], dtype=torch.long)

    def check_integrity(self) -> None:
        T, P = self.num_decode, self.prompt_len
        assert len(self.tokens) == T + 1
        assert self.k.shape[2] == P + T and self.v.shape == self.k.shape
        assert self.prefill_states.shape[0] == P
        assert torch.isfinite(self.states).all()


@torch.no_grad()
def record_greedy(lm: LayerwiseModel, prompts: list[list[int]], max_new_tokens: int,
                  prefill_layers: tuple[int, ...] = (), keep_logprobs: bool = False,
                  batch_size: int = 16, desc: str = "record") -> list[PromptRecording]:
    out: list[PromptRecording] = []
    bar = tqdm(total=len(prompts), desc=desc, unit="prompt", leave=False)
    for start in range(0, len(prompts), batch_size):
        out += _record_batch(lm, prompts[start:start + batch_size], max_new_tokens,
                             tuple(prefill_layers), keep_logprobs)
        bar.update(len(prompts[start:start + batch_size]))
    bar.close()
    return out


def _record_batch(lm, prompts, max_new_tokens, prefill_layers, keep_logprobs):
    B, L = len(prompts), lm.num_layers
    lens = torch.tensor([len(p) for p in prompts])
    cache = lm.new_cache(B, int(lens.max()) + max_new_tokens)
    prefill_states, tokens = [], []
    for b, ids in enumerate(prompts):
        kept = {}
        rec = (lambda layer, h: kept.__setitem__(layer, h[0].half())) if prefill_layers else None
        h = lm.prefill(torch.tensor(ids), cache, b, record=rec)
        prefill_states.append(torch.stack([kept[x] for x in prefill_layers], 1) if prefill_layers
                              else torch.zeros(len(ids), 0, lm.hidden, dtype=torch.float16))
        tokens.append([int(lm.logits(h[0, -1]).argmax())])
    states = [[] for _ in range(B)]
    logprobs = [[] for _ in range(B)]
    done = np.array([t[0] in lm.eos_ids for t in tokens])
    for s in range(1, max_new_tokens):
        slots = torch.from_numpy(np.flatnonzero(~done))
        if len(slots) == 0:
            break
        positions = lens[slots] + s - 1
        h = lm.embed(torch.tensor([[tokens[b][-1]] for b in slots.tolist()]))
        rope = lm.rope(h, positions.view(-1, 1))
        layer_states = [h[:, 0]]
        for layer in range(L):
            h = lm.decode_layer(layer, h, slots, positions, cache, rope)
            layer_states.append(h[:, 0])
        logits = lm.logits(h[:, 0])
        nxt = logits.argmax(-1).tolist()
        stacked = torch.stack(layer_states, 1)  # [n, L+1, d]
        lp = torch.log_softmax(logits, -1) if keep_logprobs else None
        for i, b in enumerate(slots.tolist()):
            states[b].append(stacked[i])
            if keep_logprobs:
                logprobs[b].append(lp[i])
            tokens[b].append(nxt[i])
            done[b] = nxt[i] in lm.eos_ids
    recs = []
    for b, ids in enumerate(prompts):
        T = len(tokens[b]) - 1
        P = len(ids)
        recs.append(PromptRecording(
            prompt_ids=list(ids), tokens=tokens[b],
            states=torch.stack(states[b]) if T else torch.zeros(0, L + 1, lm.hidden),
            prefill_states=prefill_states[b], prefill_layers=prefill_layers,
            k=cache.k[:, b, :, :P + T].clone(), v=cache.v[:, b, :, :P + T].clone(),
            ref_logprobs=torch.stack(logprobs[b]) if keep_logprobs and T else None))
    return recs
