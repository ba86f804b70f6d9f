"""Which skips keep the full model's greedy token: counterfactual runs, batched.

For a decode token at router checkpoint i (layer b_i) and a candidate landing
j > i, the token's state h_{b_i} is carried unchanged past blocks i..j-1 and
layers b_j..L-1 run on it (landing j = k, the block count, is an exit: the LM
head reads h_{b_i} directly). The skip is *safe* when the argmax equals the
full model's token.

Assumption (full-KV / `copy`-like): the token attends to the full model's K/V
for every earlier position, and to its own K/V computed from its carried
state at the layers it runs. So a token's counterfactual does not depend on
any other token's, and all decode tokens of a prompt run together; checkpoints
that land on the same j share the layers and run stacked as one batch.
Candidate landings are every j in (i, i + max_skip_blocks] below k, plus the
exit; the whole safety matrix is computed (so "deepest first" is exact:
the furthest safe landing is the largest safe j).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from policies.checkpoint_plan import CheckpointPlan
from policies.routers.features import step_confidence
from profiler.calibration.decoder import LayerwiseModel
from profiler.calibration.recording import PromptRecording


def candidate_landings(plan: CheckpointPlan, at: int, max_skip_blocks: int) -> list[int]:
    """Landings tested at checkpoint index `at`: short skips, then the exit."""
    k = plan.num_blocks
    return [j for j in range(at + 1, min(at + max_skip_blocks, k - 1) + 1)] + [k]


@dataclass
class PromptLabels:
    """Safety of every candidate skip of every decode token of one prompt."""

    safe: dict[int, torch.Tensor]       # checkpoint index -> [T, len(landings)] bool
    landings: dict[int, list[int]]
    exit_entropy: dict[int, torch.Tensor]  # checkpoint index -> [T] nats of the early-exit softmax
    # top-1 minus top-2 probability of the early-exit softmax (CALM's confidence)
    exit_margin: dict[int, torch.Tensor] | None = None


@torch.no_grad()
def label_prompt(lm: LayerwiseModel, rec: PromptRecording, plan: CheckpointPlan,
                 max_skip_blocks: int) -> PromptLabels:
    k = plan.num_blocks
    T = rec.num_decode
    targets = rec.targets
    inner = list(plan.router_checkpoints)
    landings = {i: candidate_landings(plan, i, max_skip_blocks) for i in inner}
    safe = {i: torch.zeros(T, len(landings[i]), dtype=torch.bool) for i in inner}
    ent, margin = {}, {}
    if T == 0:
        empty = {i: torch.zeros(0) for i in inner}
        return PromptLabels(safe, landings, empty, dict(empty))
    for j in sorted({j for i in inner for j in landings[i]}, reverse=True):
        starts = [i for i in inner if j in landings[i]]
        h = torch.stack([rec.states[:, plan.boundaries[i]] for i in starts])  # [n, T, d]
        if j < k:
            h = run_from(lm, rec, h, plan.boundaries[j])
        logits = lm.logits(h)
        agree = logits.argmax(-1) == targets
        for n, i in enumerate(starts):
            safe[i][:, landings[i].index(j)] = agree[n]
        if j == k:
            logp = torch.log_softmax(logits, -1)
            for n, i in enumerate(starts):
                conf = step_confidence(logp[n])
                ent[i], margin[i] = conf[:, 2], conf[:, 1]
    return PromptLabels(safe, landings, ent, margin)


def run_from(lm: LayerwiseModel, rec: PromptRecording, h: torch.Tensor, first_layer: int):
    """Layers first_layer..L-1 on carried states h [n, T, d] of the decode tokens,
    attending to the full model's K/V before each token and to their own K/V."""
    n, T, _ = h.shape
    P = rec.prompt_len
    positions = torch.arange(P, P + T)  # decode step s feeds position P + s - 1
    ctx = P + T - 1  # every earlier position any decode token can see
    key_pos = torch.arange(ctx)
    ctx_mask = key_pos.view(1, ctx) < positions.view(T, 1)           # strictly earlier
    mask = torch.cat([ctx_mask, torch.eye(T, dtype=torch.bool)], 1).view(1, 1, T, ctx + T)
    rope = lm.rope(h, positions.view(1, T).expand(n, T))
    for layer in range(first_layer, lm.num_layers):
        q, k_self, v_self = lm.qkv(layer, h, rope)
        keys = torch.cat([rec.k[layer, :, :ctx].expand(n, -1, -1, -1), k_self], 2)
        values = torch.cat([rec.v[layer, :, :ctx].expand(n, -1, -1, -1), v_self], 2)
        h = lm.finish(layer, h, q, keys, values, mask)
    return h


@torch.no_grad()
def label_token_by_token(lm: LayerwiseModel, rec: PromptRecording, plan: CheckpointPlan,
                         max_skip_blocks: int) -> dict[int, torch.Tensor]:
    """The reference for `label_prompt`: every (token, checkpoint, landing) run on
    its own through the decoder's ordinary decode path, over a KV cache holding
    the full model's K/V of the earlier positions. checkpoint index -> [T, m] bool.
    One layer-execution per row per call: for tests and the speed-up benchmark."""
    k, T, P = plan.num_blocks, rec.num_decode, rec.prompt_len
    out = {}
    for i in plan.router_checkpoints:
        landings = candidate_landings(plan, i, max_skip_blocks)
        safe = torch.zeros(T, len(landings), dtype=torch.bool)
        for s in range(T):
            pos = P + s  # decode step s + 1 feeds position P + s
            for n, j in enumerate(landings):
                h = rec.states[s, plan.boundaries[i]].float().view(1, 1, -1)
                if j < k:
                    cache = lm.new_cache(1, pos + 1)
                    cache.k[:, 0, :, :pos] = rec.k[:, :, :pos]
                    cache.v[:, 0, :, :pos] = rec.v[:, :, :pos]
                    positions = torch.tensor([pos])
                    rope = lm.rope(h, positions.view(1, 1))
                    for layer in range(plan.boundaries[j], lm.num_layers):
                        h = lm.decode_layer(layer, h, torch.tensor([0]), positions, cache, rope)
                safe[s, n] = int(lm.logits(h[0, 0]).argmax()) == int(rec.targets[s])
        out[i] = safe
    return out
