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
- the prompt's running mean of cos(h_{b-1}, h_b) at the checkpoint so far;
- the previous decode step's final softmax: its top-1 probability, top-1
  minus top-2, and entropy (nats): `step_confidence`. The LM head runs at the
  end of every step anyway, so this costs nothing live; a confident previous step (the middle
  of a word, a memorised phrase) goes with safe skips now (skips are
  correlated along a sequence). The first decode step, whose previous softmax
  is the prefill's and is not recorded, reads zeros.
"""

from __future__ import annotations

import numpy as np

CONTEXT_FEATURES = ("cos_prev2", "log_delta1", "log_delta2", "log_step", "prev_token_cos",
                    "prompt_mean_cos", "prev_step_top1", "prev_step_margin",
                    "prev_step_entropy")
STEP_CONFIDENCE = 3   # the last three: `step_confidence` of the previous step


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    num = (a * b).sum(1)
    return num / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)


def context_features(h: np.ndarray, h1: np.ndarray, h2: np.ndarray, step: np.ndarray,
                     prev_token_cos: np.ndarray, prompt_mean_cos: np.ndarray,
                     prev_step: np.ndarray) -> np.ndarray:
    """[n, len(CONTEXT_FEATURES)] from h_b, h_{b-1}, h_{b-2} [n, d], the decode step
    (1-based), the two running quantities [n] and the previous step's
    `step_confidence` [n, STEP_CONFIDENCE]."""
    log_norm = lambda x: np.log(np.linalg.norm(x, axis=1) + 1e-6)  # noqa: E731
    own = np.stack([_cos(h2, h1), log_norm(h - h1), log_norm(h1 - h2),
                    np.log1p(np.asarray(step, float)), prev_token_cos, prompt_mean_cos], 1)
    return np.hstack([own, np.asarray(prev_step, float).reshape(len(own), STEP_CONFIDENCE)]
                     ).astype(np.float32)


def step_confidence(logp):
    """[n, STEP_CONFIDENCE] top-1 probability, top-1 minus top-2 (CALM's
    softmax-response margin) and entropy (nats, 0 log 0 = 0) of n softmaxes
    given as log-probabilities: a torch tensor [n, V], computed where it lies
    (the LM head's device and dtype, float32 in every caller), so only [n, 3]
    leaves it. The one definition of these numbers: calibration's labels and
    features, the live calibration and the executor all call it. Float64
    gave the same routing decisions in the calibration and executor tests,
    at 1.4-2.5x the time. Tensor methods only: this module imports no torch."""
    n, vocab = logp.shape
    # p log p is NaN only where logp = -inf (p = 0), whose limit is 0: nansum
    entropy = -(logp.exp() * logp).nansum(1)
    top = logp.topk(min(2, vocab), 1).values.exp()
    out = logp.new_zeros((n, STEP_CONFIDENCE))
    out[:, 0] = top[:, 0]
    out[:, 1] = top[:, 0] - top[:, 1] if vocab > 1 else top[:, 0]
    out[:, 2] = entropy
    return out


def previous_steps(confidence: np.ndarray) -> np.ndarray:
    """Along one prompt's decode steps: each step reads the step before's
    confidence [T, STEP_CONFIDENCE]; the first reads zeros."""
    return np.vstack([np.zeros((1, STEP_CONFIDENCE)), confidence[:-1]])[:len(confidence)]


def sequence_running(prev_cos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(previous token's value, running mean including this token) along one
    prompt's decode tokens; the first token's previous value is its own."""
    prev = np.concatenate([prev_cos[:1], prev_cos[:-1]])
    mean = np.cumsum(prev_cos) / np.arange(1, len(prev_cos) + 1)
    return prev, mean
