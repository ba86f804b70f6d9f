"""Fitting cost functions to a profile, and judging them on points they never saw.

Two forms, both cited where they come from:

- `LinearFit`: time = sum_i coef_i * feature_i, fitted by least squares on the
  *relative* residual (each row divided by its measured time, so a 1 ms point
  counts as much as a 1 s one), constrained so that time never falls as work
  grows (`profiler.monotone`: every piecewise-linear curve has non-negative
  slopes, the attention-pair and context terms non-negative coefficients; an
  unconstrained fit gave the committed CPU profile a negative pair term, so
  long prompts came out cheaper than short ones). For a decoder layer the features follow
  DistServe's prefill model (a + b*tokens + c*sum len^2, Zhong et al., OSDI'24)
  and Vidur's split of prefill and decode work (Agrawal et al., MLSys'24):
  prefill tokens and decode sequences, each with hinges (piecewise-linear GEMM
  efficiency), causal prefill query-key pairs and the decode K/V read (sum of
  contexts). Because the terms add, a mixed prefill+decode batch is priced by
  the same formula.
- `LogLogTable`: piecewise-linear interpolation of log time over log bank size
  and log query batch, per index kind; faiss's flat search switches to BLAS
  above 20 queries and HNSW visits a data-dependent number of nodes, which no
  small formula captures, so lookups are read off the measured grid.

`holdout_mask` picks the test points: a seeded quarter of the grid, never a
point on the edge of an axis (the fit would extrapolate there). The fits only
ever receive the training rows; `heldout_error` scores the test rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

from profiler.monotone import identified, is_monotone, nonneg_slope_lstsq

HOLDOUT_FRACTION = 0.25
# Hinges of the piecewise-linear token curves, every other octave of the
# profiled range: hinges at every octave fitted the noise (on the committed CPU
# profile, held-out error over seeds 0-5 was 9.2% vs 8.6% for these).
TOKEN_KNOTS = (4, 16, 64, 256, 1024)
# No prefill hinge at 1024: under the monotone constraint it took the place of
# the quadratic attention-pair term (fitted 0), and a 2048-token prompt in four
# chunks came out 15% cheaper than in one; without it the pair term is
# positive, chunked/unchunked is 0.92 (measured rows: 4 x 512 / 2048 = 0.93)
# and the held-out error is unchanged (mean over seeds 0-5: 8.66% vs 8.64%).
PREFILL_KNOTS = (64, 256)
DECODE_KNOTS = (2, 8, 32, 128)


def holdout_mask(axes: pd.DataFrame, fraction: float = HOLDOUT_FRACTION,
                 seed: int = 0, groups: pd.Series | None = None) -> np.ndarray:
    """True for test rows: within each group, `fraction` of its rows, drawn from
    its interior ones (not at the minimum or maximum of any axis)."""
    groups = np.zeros(len(axes)) if groups is None else np.asarray(groups)
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(axes), dtype=bool)
    for g in sorted(set(groups.tolist()), key=str):
        pos = np.flatnonzero(groups == g)
        sub = axes.iloc[pos]
        interior = np.ones(len(pos), dtype=bool)
        for col in axes.columns:
            interior &= ~sub[col].isin([sub[col].min(), sub[col].max()]).to_numpy()
        candidates = pos[interior]
        count = min(len(candidates), int(round(fraction * len(pos))))
        mask[rng.choice(candidates, size=count, replace=False)] = True
    return mask


def ape(predicted: np.ndarray, measured: np.ndarray) -> np.ndarray:
    """Absolute percentage errors, in percent."""
    measured = np.asarray(measured, dtype=float)
    return 100.0 * np.abs(np.asarray(predicted, dtype=float) - measured) / measured


@dataclass(frozen=True)
class HeldOut:
    """Errors of a fit on its test points (percent)."""

    n_train: int
    n_test: int
    median_ape: float
    p90_ape: float
    max_ape: float

    @classmethod
    def score(cls, predicted, measured, n_train: int) -> HeldOut:
        e = ape(predicted, measured)
        if not len(e):
            return cls(n_train, 0, float("nan"), float("nan"), float("nan"))
        return cls(n_train, len(e), float(np.median(e)), float(np.quantile(e, 0.9)),
                   float(e.max()))


# ----- linear-in-features fits ------------------------------------------------

def _hinge(x, k):
    """max(x - k, 0), for numbers and arrays alike (the simulator calls the
    feature functions once per step with plain numbers: no numpy round-trip)."""
    d = x - k
    return d * (d > 0)


def _one_like(x):
    """The intercept's feature: 1.0 for a number, an array of ones for an array."""
    if type(x) is int or type(x) is float:  # the simulator's per-step call: skip numpy
        return 1.0
    return np.ones(np.shape(x)) if np.ndim(x) else 1.0


@cache
def _hinge_names(feature: str, knots: tuple) -> tuple:
    """(knot, "feature>knot") pairs: the names are built once, not per step."""
    return tuple((k, f"{feature}>{k}") for k in knots)


def token_features(tokens, knots=TOKEN_KNOTS) -> dict:
    out = {"one": _one_like(tokens), "tokens": tokens}
    for k, name in _hinge_names("tokens", tuple(knots)):
        out[name] = _hinge(tokens, k)
    return out


def block_features(prefill_tokens, prefill_pairs, decode_seqs, decode_context,
                   prefill_knots=PREFILL_KNOTS, decode_knots=DECODE_KNOTS) -> dict:
    """Features of one layer's work (numbers, or arrays with one entry per batch).

    Prefill tokens and decoded sequences each get their own piecewise-linear
    curve (hinges every other profiled octave): a GEMM over a few decode rows and
    one over a long prompt sit on different parts of the CPU's efficiency
    curve, and the decode curve also carries the per-sequence attention work.
    """
    n, b = prefill_tokens, decode_seqs
    out = {"one": _one_like(n), "prefill_tokens": n}
    for k, name in _hinge_names("prefill_tokens", tuple(prefill_knots)):
        out[name] = _hinge(n, k)
    out["prefill_pairs"] = prefill_pairs
    out["decode_seqs"] = b
    for k, name in _hinge_names("decode_seqs", tuple(decode_knots)):
        out[name] = _hinge(b, k)
    out["decode_context"] = decode_context
    return out


def layer_rows_features(rows: pd.DataFrame, **knots) -> dict[str, np.ndarray]:
    """Block features of profile rows (prefill: one sequence of `tokens`,
    no cached prefix; decode: `batch` sequences of `context` each)."""
    prefill = (rows["phase"] == "prefill").to_numpy()
    n = np.where(prefill, rows["tokens"].to_numpy(dtype=float), 0.0)
    b = np.where(prefill, 0.0, rows["batch"].to_numpy(dtype=float))
    c = rows["context"].to_numpy(dtype=float)
    return block_features(n, n * (n + 1) / 2, b, np.where(prefill, 0.0, b * c), **knots)


@dataclass(frozen=True)
class LinearFit:
    features: tuple[str, ...]
    coef: tuple[float, ...]
    floor_s: float  # predictions never go below this (the fastest point seen / 2)

    @classmethod
    def fit(cls, features: dict[str, np.ndarray], measured_s) -> LinearFit:
        y = np.asarray(measured_s, dtype=float)
        names = [k for k, v in features.items() if np.any(np.asarray(v) != 0)]
        columns = lambda keep: np.column_stack(  # noqa: E731
            [np.broadcast_to(features[k], y.shape) for k in keep])
        names = identified(names, columns(names))
        if len(y) < len(names):  # too few points: drop the last hinges first
            names = names[:max(1, len(y))]
        x = columns(names)
        coef = nonneg_slope_lstsq(x / y[:, None], np.ones_like(y), names)
        return cls(tuple(names), tuple(float(v) for v in coef), float(y.min() / 2))

    @property
    def monotone(self) -> bool:
        """Non-decreasing in every feature (always true of a fit made here)."""
        return is_monotone(list(self.features), self.coef, tol=1e-15)

    def predict(self, features: dict[str, np.ndarray]) -> np.ndarray:
        total = sum(c * np.asarray(features[k], dtype=float)
                    for k, c in zip(self.features, self.coef))
        return np.maximum(np.asarray(total, dtype=float), self.floor_s)

    def predict_one(self, features: dict[str, float]) -> float:
        """`predict` for one point given as plain numbers, in pure Python."""
        total = 0.0
        for k, c in zip(self.features, self.coef):
            total += c * features[k]
        return max(float(total), self.floor_s)

    def to_dict(self) -> dict:
        return {"form": "linear", "features": list(self.features), "coef": list(self.coef),
                "floor_s": self.floor_s}

    @classmethod
    def from_dict(cls, d: dict) -> LinearFit:
        return cls(tuple(d["features"]), tuple(float(c) for c in d["coef"]),
                   float(d["floor_s"]))


# ----- log-log interpolation ----------------------------------------------------

def _interp(x: float, xs: np.ndarray, ys: np.ndarray) -> float:
    """Linear interpolation, extended linearly beyond the ends."""
    if len(xs) == 1:
        return float(ys[0])
    i = int(np.clip(np.searchsorted(xs, x) - 1, 0, len(xs) - 2))
    w = (x - xs[i]) / (xs[i + 1] - xs[i])
    return float(ys[i] + w * (ys[i + 1] - ys[i]))


def monotone_envelope(entries, queries, seconds) -> tuple[float, ...]:
    """The least table above `seconds` that never falls with more queries or a
    larger bank (a running maximum along each axis). Conservative: a measured
    dip is not credited (faiss's flat search at 256 queries took less than at
    128 on the committed CPU profile; a server that padded its batches could
    use that, skipsim does not model padding), and interpolation between
    non-decreasing points never falls."""
    n, q = np.asarray(entries), np.asarray(queries)
    t = np.asarray(seconds, dtype=float).copy()
    for size in np.unique(n):  # rows come sorted by (entries, queries)
        at = np.flatnonzero(n == size)
        t[at] = np.maximum.accumulate(t[at])
    for count in np.unique(q):
        at = np.flatnonzero(q == count)
        t[at] = np.maximum.accumulate(t[at])
    return tuple(float(v) for v in t)


@dataclass(frozen=True)
class LogLogTable:
    """Measured (bank entries, queries, seconds) points of one index kind."""

    entries: tuple[int, ...]
    queries: tuple[int, ...]
    seconds: tuple[float, ...]

    @classmethod
    def fit(cls, entries, queries, seconds) -> LogLogTable:
        order = np.lexsort((np.asarray(queries), np.asarray(entries)))
        pick = lambda a, t: tuple(t(v) for v in np.asarray(a)[order])  # noqa: E731
        n, q = pick(entries, int), pick(queries, int)
        return cls(n, q, monotone_envelope(n, q, pick(seconds, float)))

    def predict_one(self, entries: float, queries: float) -> float:
        n = np.log(np.asarray(self.entries, dtype=float))
        q = np.log(np.asarray(self.queries, dtype=float))
        t = np.log(np.asarray(self.seconds, dtype=float))
        sizes = np.unique(n)
        per_size = np.array([_interp(np.log(queries), q[n == s], t[n == s]) for s in sizes])
        # sizes measured at different query counts (held-out points missing) can
        # cross between their points: a larger bank is never taken as faster
        per_size = np.maximum.accumulate(per_size)
        return float(np.exp(_interp(np.log(entries), sizes, per_size)))

    def predict(self, entries, queries) -> np.ndarray:
        return np.array([self.predict_one(n, q) for n, q in
                         zip(np.atleast_1d(entries), np.atleast_1d(queries))])

    def to_dict(self) -> dict:
        return {"form": "loglog", "entries": list(self.entries), "queries": list(self.queries),
                "seconds": list(self.seconds)}

    @classmethod
    def from_dict(cls, d: dict) -> LogLogTable:
        # the envelope again: a fit saved before it existed never falls either
        return cls.fit([int(v) for v in d["entries"]], [int(v) for v in d["queries"]],
                       [float(v) for v in d["seconds"]])


FORMS = {"linear": LinearFit, "loglog": LogLogTable}


def fit_from_dict(d: dict):
    return FORMS[d["form"]].from_dict(d)
