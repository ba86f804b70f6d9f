"""Synthetic prompt/output lengths: fixed, uniform, or lognormal.

The lognormal's parameters default to a fit of ShareGPT as sampled by
`traces.sharegpt` (SmolLM2 tokenizer, vLLM's filters): mean and standard
deviation of ln(tokens). They were printed by
`python -m traces.lengths` and are checked against the data by a test.
Draws are clipped to vLLM's filter bounds so synthetic traces pass them too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skipsim.errors import UserError
from traces.sharegpt import MAX_PROMPT_TOKENS, MAX_TOTAL_TOKENS, MIN_TOKENS

# (mu, sigma) of ln(tokens), from `python -m traces.lengths`
SHAREGPT_PROMPT_LOGNORMAL = (4.516, 1.585)
SHAREGPT_OUTPUT_LOGNORMAL = (4.577, 1.482)


@dataclass(frozen=True)
class LengthSpec:
    kind: str = "lognormal"  # fixed | uniform | lognormal
    prompt_tokens: int = 256  # fixed, and the upper end of uniform
    output_tokens: int = 128
    min_tokens: int = MIN_TOKENS  # lower end of uniform

    def __post_init__(self):
        if self.kind not in ("fixed", "uniform", "lognormal"):
            raise UserError(f"unknown length distribution {self.kind!r}")
        if min(self.prompt_tokens, self.output_tokens, self.min_tokens) < 1:
            raise UserError("token lengths must be at least 1")
        if self.kind == "uniform" and self.min_tokens > min(self.prompt_tokens, self.output_tokens):
            raise UserError("uniform lengths: the lower bound exceeds the upper bound")


def draw_lengths(spec: LengthSpec, n: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(prompt_tokens, output_tokens), each an int array of length n."""
    if spec.kind == "fixed":
        return np.full(n, spec.prompt_tokens), np.full(n, spec.output_tokens)
    if spec.kind == "uniform":
        return (rng.integers(spec.min_tokens, spec.prompt_tokens, n, endpoint=True),
                rng.integers(spec.min_tokens, spec.output_tokens, n, endpoint=True))
    prompt = np.exp(rng.normal(*SHAREGPT_PROMPT_LOGNORMAL, n))
    output = np.exp(rng.normal(*SHAREGPT_OUTPUT_LOGNORMAL, n))
    prompt = np.clip(np.rint(prompt), MIN_TOKENS, MAX_PROMPT_TOKENS).astype(np.int64)
    output = np.clip(np.rint(output), MIN_TOKENS, MAX_TOTAL_TOKENS - prompt).astype(np.int64)
    return prompt, output


def fit_lognormal(tokens: np.ndarray) -> tuple[float, float]:
    logs = np.log(np.asarray(tokens, dtype=float))
    return float(logs.mean()), float(logs.std())


if __name__ == "__main__":
    from traces.sharegpt import is_valid_pair, load_pairs_with_lengths

    df, _ = load_pairs_with_lengths()
    p, o = df["prompt_tokens"].to_numpy(), df["output_tokens"].to_numpy()
    ok = is_valid_pair(p, o)
    print("prompt (mu, sigma):", [round(v, 3) for v in fit_lognormal(p[ok])])
    print("output (mu, sigma):", [round(v, 3) for v in fit_lognormal(o[ok])])
