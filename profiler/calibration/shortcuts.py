"""Block shortcuts fitted on the calibration prompts' recorded states.

For every router checkpoint i and candidate landing j (the exit maps to the
last layer's output h_L, which the LM head reads), one `BlockShortcut` is
fitted on the full model's decode states: departure h_{b_i}, target h_{b_j}.
"""

from __future__ import annotations

import torch

from policies.actions.shortcut import BlockShortcut
from profiler.calibration.counterfactual import candidate_landings


def fit_shortcuts(plan, recs, max_skip_blocks: int, rank: int | None = None) -> dict:
    """(checkpoint, landing) -> BlockShortcut."""
    memo: dict[int, object] = {}

    def at(layer: int):   # [N, d] float32 states of one layer, gathered once
        if layer not in memo:
            memo[layer] = torch.cat([r.states[:, layer].float() for r in recs
                                     if r.num_decode]).numpy()
        return memo[layer]

    out = {}
    for i in plan.router_checkpoints:
        for j in candidate_landings(plan, i, max_skip_blocks):
            layer = plan.boundaries[j] if j < plan.num_blocks else plan.num_layers
            out[(i, j)] = BlockShortcut(at(plan.boundaries[i]), at(layer), rank=rank)
    return out
