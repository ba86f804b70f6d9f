"""The token ids each request's prompt feeds the model.

A trace carries prompt texts (ShareGPT) or only lengths (synthetic traces).
A text is tokenized as the trace counted it (no special tokens, no chat
template) and cut to the trace's prompt length; a request without text gets
seeded random ids (stream [seed, 7]) of its length. Where a text tokenizes
to fewer tokens than the trace says (a trace saved with another tokenizer),
the trace's count is corrected, so records report what really ran.
"""

from __future__ import annotations

import numpy as np

from traces.trace import Trace


def prompt_ids(trace: Trace, tokenizer, seed: int) -> tuple[list[list[int]], Trace]:
    rng = np.random.default_rng([seed, 7])
    vocab = len(tokenizer)
    prompts = []
    for text, n in zip(trace.prompt_text, trace.prompt_tokens.tolist()):
        ids = tokenizer(text, add_special_tokens=False).input_ids[:n] if text else []
        if not ids:
            ids = rng.integers(0, vocab, n).tolist()
        prompts.append([int(x) for x in ids])
    lengths = np.array([len(p) for p in prompts], np.int64)
    if not np.array_equal(lengths, trace.prompt_tokens):
        trace = Trace(trace.request_id, trace.arrival_time_s, lengths, trace.output_tokens,
                      trace.prompt_text, {**trace.metadata, "prompt_tokens_corrected": True})
    return prompts, trace
