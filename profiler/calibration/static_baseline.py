"""The static baseline: skip the same layers for every decode token, ShortGPT-style.

Block Influence of layer l (Men et al. 2024, "ShortGPT: Layers in Large
Language Models are More Redundant Than You Expect", eq. 1):
    BI_l = 1 - E_t[ cos(h_l,t , h_{l+1},t) ]
over the calibration decode tokens (h_l = input of layer l). The n layers
with the lowest BI are skipped. Layer 0 is never skipped (there is no
departure layer to copy K/V from, and its BI is the largest anyway).
"""

from __future__ import annotations

import numpy as np
import torch

from profiler.calibration.recording import PromptRecording


def block_influence(recs: list[PromptRecording]) -> np.ndarray:
    """[L] BI of each layer over all decode tokens."""
    states = torch.cat([r.states.float() for r in recs if r.num_decode])  # [N, L+1, d]
    cos = torch.nn.functional.cosine_similarity(states[:, :-1], states[:, 1:], dim=-1)
    return (1.0 - cos.mean(0)).numpy()


def lowest_influence_layers(bi: np.ndarray, n: int) -> frozenset[int]:
    order = [int(x) for x in np.argsort(bi, kind="stable") if x != 0]
    return frozenset(order[:n])
