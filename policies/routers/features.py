"""Context features of a token at a checkpoint, beyond its hidden state.

One function computes them for the offline examples (from the recorded
states) and for live queries (from the states the live decode keeps), so a
router sees the same quantities in both. Shapes: n tokens, d hidden.

- cos(h_{b-2}, h_{b-1}): the saturation of the layer before the last
  (cos(h_{b-1}, h_b), the last one, is `prev_cos`);
- log ||h_b - h_{b-1}||, log ||h_{b-1} - h_{b-2}||: the last layers' deltas;
- log(1 + decode step): position in the answer;
- the previous token's cos(h_{b-1}, h_b) at the same checkpoint (skips are
  correlated along a sequence; the previous token's *safety* is not observable
  live, its saturation is);
- the prompt's running mean of cos(h_{b-1}, h_b) at the checkpoint so far.
"""

from __future__ import annotations

import numpy as np

CONTEXT_FEATURES = ("cos_prev2", "log_delta1", "log_delta2", "log_step", "prev_token_cos",
                    "prompt_mean_cos")


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    num = (a * b).sum(1)
    return num / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)


def context_features(h: np.ndarray, h1: np.ndarray, h2: np.ndarray, step: np.ndarray,
                     prev_token_cos: np.ndarray, prompt_mean_cos: np.ndarray) -> np.ndarray:
    """[n, len(CONTEXT_FEATURES)] from h_b, h_{b-1}, h_{b-2} [n, d], the decode step
    (1-based) and the two running quantities [n]."""
    log_norm = lambda x: np.log(np.linalg.norm(x, axis=1) + 1e-6)  # noqa: E731
    return np.stack([_cos(h2, h1), log_norm(h - h1), log_norm(h1 - h2),
                     np.log1p(np.asarray(step, float)), prev_token_cos, prompt_mean_cos],
                    1).astype(np.float32)


def sequence_running(prev_cos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(previous token's value, running mean including this token) along one
    prompt's decode tokens; the first token's previous value is its own."""
    prev = np.concatenate([prev_cos[:1], prev_cos[:-1]])
    mean = np.cumsum(prev_cos) / np.arange(1, len(prev_cos) + 1)
    return prev, mean
