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
    """[L] BI of each layer over all decode tokens.

    One recording at a time: concatenating every decode state in float32 first
    ([N, L+1, d], 2.2 GB at 31k tokens, and cosine_similarity's products as
    large again three times) was the calibration study's peak memory."""
    total, n = None, 0
    for r in recs:
        if r.num_decode:
            states = r.states.float()  # [T, L+1, d]
            cos = torch.nn.functional.cosine_similarity(states[:, :-1], states[:, 1:], dim=-1)
            part = cos.double().sum(0)
            total = part if total is None else total + part
            n += r.num_decode
    return (1.0 - total / n).float().numpy()


def lowest_influence_layers(bi: np.ndarray, n: int) -> frozenset[int]:
    order = [int(x) for x in np.argsort(bi, kind="stable") if x != 0]
    return frozenset(order[:n])
