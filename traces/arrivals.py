"""Arrival times: Poisson, Gamma with a burstiness factor, all at once, replay.

As vLLM's serving benchmark (get_request): inter-arrival gaps are drawn from
Gamma(shape = burstiness, scale = 1 / (rate * burstiness)), so the mean gap
is 1/rate [s] and the coefficient of variation is 1/sqrt(burstiness);
burstiness = 1 is a Poisson process. The first request arrives at t = 0 and
rate = inf sends every request at t = 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from skipsim.errors import UserError
from traces.config import check_rate


def gamma_arrivals(n: int, request_rate_per_s: float, burstiness: float,
                   rng: np.random.Generator) -> np.ndarray:
    """n arrival times [s] with Gamma gaps (Poisson when burstiness = 1)."""
    return next(gamma_arrival_chunks(n, request_rate_per_s, burstiness, rng, max(n, 1)),
                np.zeros(0))


def gamma_arrival_chunks(n: int, request_rate_per_s: float, burstiness: float,
                         rng: np.random.Generator, chunk_rows: int) -> Iterator[np.ndarray]:
    """`gamma_arrivals(n, ...)` as consecutive pieces of `chunk_rows` times [s]
    (the last one shorter): the same values bit for bit, whatever `chunk_rows`.
    The gaps are drawn from `rng` in the same order, and each piece sums on
    from the previous piece's last time one gap at a time, as `np.cumsum`
    does along the whole array (0.0 + gap == gap exactly, so the first
    piece may start its sum from t = 0 too)."""
    check_rate(request_rate_per_s, burstiness)
    theta = None if math.isinf(request_rate_per_s) else 1.0 / (request_rate_per_s * burstiness)
    last = 0.0
    for lo in range(0, n, chunk_rows):
        m = min(chunk_rows, n - lo)
        if theta is None:
            yield np.zeros(m)
            continue
        first = lo == 0  # the first request arrives at t = 0: one gap fewer
        times = np.cumsum(np.concatenate([[last], rng.gamma(burstiness, theta, m - first)]))
        times = times if first else times[1:]
        last = float(times[-1])
        yield times


def replay_arrivals(path: str | Path, n: int, notes: list | None = None) -> np.ndarray:
    """The first n timestamps [s] of a file (one number per line, or a CSV/
    JSONL column named arrival_time_s), shifted so the first is 0. Negative
    timestamps are refused; unsorted ones are sorted, with a note in `notes`."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"arrival-times file not found: {path}")
    import pandas as pd

    try:
        if path.suffix == ".jsonl":
            times = pd.read_json(path, lines=True)["arrival_time_s"].to_numpy(float)
        elif path.suffix == ".csv":
            times = pd.read_csv(path)["arrival_time_s"].to_numpy(float)
        else:
            times = np.loadtxt(path, dtype=float, ndmin=1)
    except (KeyError, ValueError) as err:
        raise UserError(f"{path}: expected one timestamp per line or an arrival_time_s "
                        f"column ({err})") from None
    if len(times) < n:
        raise UserError(f"{path}: holds {len(times)} timestamps, {n} are needed")
    times = times[:n]
    if not np.all(np.isfinite(times)):
        raise UserError(f"{path}: timestamps must be finite numbers")
    if np.any(times < 0):
        raise UserError(f"{path}: timestamps must be non-negative, got {times[times < 0][0]:g}")
    if np.any(np.diff(times) < 0):
        times = np.sort(times)
        if notes is not None:
            notes.append(f"{path}: timestamps were not in order: sorted")
    return times - times[0]
