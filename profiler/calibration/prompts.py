"""ShareGPT prompts for calibration: a calibration split and a disjoint held-out split.

Prompts are the first turns of ShareGPT conversations (traces.sharegpt),
shuffled with the seed; the first `num_calibration` go to calibration, the
next `num_test` to the held-out test split, so no prompt is in both. With
`held_out_from` the held-out prompts start at that position of the shuffled
list instead (at or after the calibration prompts): a fixed position keeps
the held-out set fixed while the calibration set grows. Each
prompt is cut to `max_prompt_tokens` tokens of its text and wrapped in the
model's chat template (SmolLM2-Instruct is a chat model).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_PROMPT_TOKENS = 8


@dataclass(frozen=True)
class PromptSplit:
    calibration: list[list[int]]  # token ids per prompt
    test: list[list[int]]
    calibration_ids: list[int]    # row numbers in the ShareGPT pair table
    test_ids: list[int]


def split_prompts(tokenizer, num_calibration: int, num_test: int, max_prompt_tokens: int,
                  seed: int, held_out_from: int | None = None) -> PromptSplit:
    from traces.sharegpt import load_pairs_with_lengths

    pairs, _ = load_pairs_with_lengths(verbose=False)
    rows = np.flatnonzero(pairs["prompt_tokens"].to_numpy() >= MIN_PROMPT_TOKENS)
    rows = np.random.default_rng(seed).permutation(rows)
    start = num_calibration if held_out_from is None else held_out_from
    rows = np.concatenate([rows[:num_calibration], rows[start:start + num_test]])
    encoded = [encode_prompt(tokenizer, pairs["prompt"].iat[r], max_prompt_tokens) for r in rows]
    return PromptSplit(encoded[:num_calibration], encoded[num_calibration:],
                       [int(r) for r in rows[:num_calibration]],
                       [int(r) for r in rows[num_calibration:]])


def encode_prompt(tokenizer, text: str, max_prompt_tokens: int) -> list[int]:
    """The prompt cut to `max_prompt_tokens` text tokens, as a chat turn."""
    ids = tokenizer(text, add_special_tokens=False).input_ids[:max_prompt_tokens]
    cut = tokenizer.decode(ids)
    chat = tokenizer.apply_chat_template([{"role": "user", "content": cut}],
                                         add_generation_prompt=True, tokenize=True)
    if hasattr(chat, "input_ids") or isinstance(chat, dict):
        chat = chat["input_ids"]
    return list(chat)
