"""A long trace from a short one: lengths drawn with replacement, Gamma arrivals.

ShareGPT holds ~17k usable conversations; a day of production arrivals is
millions of requests. A long trace therefore draws its (prompt, output)
pairs *with replacement* from the pairs given, and its arrivals from
Gamma gaps at a rate (Poisson at burstiness 1, as `arrivals.py`).

`resampled_chunks` generates it lazily, `chunk_rows` requests at a time,
from the same two seeded streams as the eager `resampled_trace` (one
for the picks, one for the gaps): the chunks, joined, are that trace
exactly, without its temporaries (picks, gaps) for every request at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from skipsim.errors import UserError
from traces.arrivals import gamma_arrival_chunks, gamma_arrivals
from traces.config import check_rate
from traces.trace import Trace

CHUNK_ROWS = 65_536


def _streams(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """(the picks' stream, the gaps' stream)."""
    return np.random.default_rng([seed, 15]), np.random.default_rng([seed, 16])


def _check(prompt: np.ndarray, output: np.ndarray, n: int, rate_per_s: float,
           burstiness: float) -> None:
    if len(prompt) == 0 or len(prompt) != len(output):
        raise UserError("resampling needs one or more (prompt, output) length pairs")
    if n < 1:
        raise UserError(f"a resampled trace needs at least one request, got {n}")
    check_rate(rate_per_s, burstiness)


def resampled_trace(prompt: np.ndarray, output: np.ndarray, n: int, rate_per_s: float,
                    seed: int = 0, burstiness: float = 1.0) -> Trace:
    """n requests at once: pairs picked uniformly with replacement, Gamma arrivals."""
    _check(prompt, output, n, rate_per_s, burstiness)
    picks, gaps = _streams(seed)
    idx = picks.integers(0, len(prompt), n)
    arrivals = gamma_arrivals(n, rate_per_s, burstiness, gaps)
    return Trace(np.arange(n), arrivals, prompt[idx], output[idx], [None] * n)


def resampled_chunks(prompt: np.ndarray, output: np.ndarray, n: int, rate_per_s: float,
                     seed: int = 0, burstiness: float = 1.0,
                     chunk_rows: int = CHUNK_ROWS) -> Iterator[Trace]:
    """`resampled_trace`'s requests, `chunk_rows` at a time (the same values:
    both streams are drawn in the same order; `gamma_arrival_chunks`)."""
    _check(prompt, output, n, rate_per_s, burstiness)
    if chunk_rows < 1:
        raise UserError(f"chunk_rows must be >= 1, got {chunk_rows}")
    picks, gaps = _streams(seed)
    arrivals = gamma_arrival_chunks(n, rate_per_s, burstiness, gaps, chunk_rows)
    for lo, times in zip(range(0, n, chunk_rows), arrivals, strict=True):
        m = len(times)
        idx = picks.integers(0, len(prompt), m)
        yield Trace(np.arange(lo, lo + m), times, prompt[idx], output[idx], [None] * m)


def join_chunks(chunks: Iterable[Trace], n: int) -> Trace:
    """One trace of `n` requests from consecutive chunks, filled in place."""
    cols = {"request_id": np.empty(n, np.int64), "arrival_time_s": np.empty(n),
            "prompt_tokens": np.empty(n, np.int64), "output_tokens": np.empty(n, np.int64)}
    at = 0
    for chunk in chunks:
        for name, col in cols.items():
            col[at:at + len(chunk)] = getattr(chunk, name)
        at += len(chunk)
    if at != n:
        raise ValueError(f"the chunks hold {at} requests, not {n}")
    return Trace(**cols, prompt_text=[None] * n)
