"""A long trace resampled from a short one: generated lazily in chunks it is
exactly the eager trace for the same seed; lengths come only from the given
pairs (with replacement); arrivals are a Poisson process at the rate."""

import math

import numpy as np
import pytest

from skipsim.errors import UserError
from traces.resampled import join_chunks, resampled_chunks, resampled_trace

PROMPT = np.array([5, 17, 230, 44, 9])
OUTPUT = np.array([3, 120, 8, 61, 2])


def _columns(trace):
    return (trace.request_id, trace.arrival_time_s, trace.prompt_tokens, trace.output_tokens)


@pytest.mark.parametrize("chunk_rows", [1, 3, 7, 1000, 2000])
@pytest.mark.parametrize("rate, burstiness", [(2.5, 1.0), (2.5, 0.3), (math.inf, 1.0)])
def test_the_lazy_trace_is_the_eager_one_for_a_seed(chunk_rows, rate, burstiness):
    eager = resampled_trace(PROMPT, OUTPUT, 1000, rate, seed=7, burstiness=burstiness)
    chunks = list(resampled_chunks(PROMPT, OUTPUT, 1000, rate, seed=7, burstiness=burstiness,
                                   chunk_rows=chunk_rows))
    assert [len(c) for c in chunks[:-1]] == [chunk_rows] * (len(chunks) - 1)
    lazy = join_chunks(iter(chunks), 1000)
    for a, b in zip(_columns(eager), _columns(lazy), strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b)  # bit for bit, not close


def test_lengths_are_the_given_pairs_drawn_with_replacement():
    trace = resampled_trace(PROMPT, OUTPUT, 5000, 1.0, seed=1)
    pairs = set(zip(trace.prompt_tokens.tolist(), trace.output_tokens.tolist()))
    assert pairs == set(zip(PROMPT.tolist(), OUTPUT.tolist()))  # every pair, and no other
    counts = np.unique(trace.prompt_tokens, return_counts=True)[1]
    assert np.all(np.abs(counts / 5000 - 0.2) < 0.03)  # uniform picks (5 sigma ~ 0.028)


def test_arrivals_are_poisson_at_the_rate():
    """Exponential gaps with mean 1/rate: mean and coefficient of variation ~ 1."""
    trace = resampled_trace(PROMPT, OUTPUT, 20_000, 4.0, seed=2)
    gaps = np.diff(trace.arrival_time_s)
    assert trace.arrival_time_s[0] == 0.0 and np.all(gaps >= 0)
    assert abs(gaps.mean() * 4.0 - 1) < 0.03 and abs(gaps.std() / gaps.mean() - 1) < 0.03


def test_seeds_give_other_traces():
    a, b = (resampled_trace(PROMPT, OUTPUT, 100, 1.0, seed=s) for s in (0, 1))
    assert not np.array_equal(a.arrival_time_s, b.arrival_time_s)


@pytest.mark.parametrize("args, message", [
    ((PROMPT[:0], OUTPUT[:0], 10, 1.0), "one or more"),
    ((PROMPT, OUTPUT, 0, 1.0), "at least one request"),
    ((PROMPT, OUTPUT, 10, -1.0), "rate"),
])
def test_impossible_requests_are_refused_in_one_line(args, message):
    with pytest.raises(UserError, match=message):
        resampled_trace(*args)
    with pytest.raises(UserError, match=message):
        next(resampled_chunks(*args))
