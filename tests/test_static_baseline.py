"""Block Influence (ShortGPT eq. 1) of the static baseline, on states with known angles."""

import math

import numpy as np
import torch

from profiler.calibration.recording import PromptRecording
from profiler.calibration.static_baseline import block_influence, lowest_influence_layers


def _rec(states: torch.Tensor) -> PromptRecording:
    T, L1, d = states.shape
    empty = torch.zeros(L1 - 1, 1, 0, 4)
    return PromptRecording([1], [0] * (T + 1), states, torch.zeros(1, 0, d), (), empty, empty)


def _rotating(T: int, angles: list[float], rng) -> torch.Tensor:
    """[T, L+1, 2] states whose layer l -> l+1 turns every token by angles[l]."""
    start = rng.uniform(0, 2 * math.pi, T)
    turned = start[:, None] + np.concatenate([[0.0], np.cumsum(angles)])[None]
    scale = rng.uniform(0.5, 3.0, (T, 1))   # cosine ignores the norm
    return torch.from_numpy(np.stack([np.cos(turned), np.sin(turned)], -1) * scale[..., None])


def test_block_influence_is_one_minus_the_cosine_of_each_layers_turn():
    rng = np.random.default_rng(0)
    angles = [0.1, 1.2, 0.4, 0.05]
    recs = [_rotating(T, angles, rng).half() for T in (5, 1, 9)]
    bi = block_influence([_rec(s) for s in recs] + [_rec(torch.zeros(0, 5, 2))])
    np.testing.assert_allclose(bi, [1 - math.cos(a) for a in angles], atol=2e-3)
    assert lowest_influence_layers(bi, 2) == frozenset({3, 2})   # layer 0 is never skipped


def test_block_influence_weights_every_token_alike_across_prompts():
    """A mean over tokens, not over prompts: a long prompt counts for its length."""
    rng = np.random.default_rng(1)
    short, long = _rotating(1, [0.0], rng), _rotating(9, [1.0], rng)
    bi = block_influence([_rec(short.float()), _rec(long.float())])
    np.testing.assert_allclose(bi, [0.9 * (1 - math.cos(1.0))], rtol=1e-5)
