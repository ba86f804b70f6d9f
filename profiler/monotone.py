"""Least squares whose fitted time never falls as work grows.

A cost formula sum_i coef_i * feature_i over hinge features (`x`, `(x - k1)+`,
`(x - k2)+`, ...; see `profiler.fit`) is non-decreasing in every feature when,
along each hinge chain, every cumulative slope is >= 0 (the slope of the
piecewise-linear curve on each of its segments), and every other feature's
coefficient is >= 0. Hinge coefficients themselves may be negative (a GEMM
gets more efficient with more rows: a concave curve); a segment's slope may not.

We solve it as non-negative least squares on the segment basis: with
s_j = a_0 + ... + a_j the slope on segment j, the chain's columns become
`min(x, k1)`, `clip(x - k1, 0, k2 - k1)`, ..., `(x - k_last)+`, and
s >= 0 is exactly NNLS's constraint (Lawson & Hanson, "Solving Least Squares
Problems", 1974, ch. 23; `scipy.optimize.nnls`). The solution is mapped back
to hinge coefficients, so a fit is stored and evaluated as before.
"""

from __future__ import annotations

import numpy as np

CHAIN_SEP = ">"  # "prefill_tokens>64" continues the chain of "prefill_tokens"


def chains(names: list[str]) -> list[list[int]]:
    """Column indices grouped by chain: the base feature, then its hinges by knot."""
    out = []
    for i, name in enumerate(names):
        if CHAIN_SEP in name:
            continue
        hinges = [j for j, n in enumerate(names) if n.startswith(name + CHAIN_SEP)]
        hinges.sort(key=lambda j: float(names[j].split(CHAIN_SEP, 1)[1]))
        out.append([i] + hinges)
    covered = {j for c in out for j in c}
    out += [[j] for j in range(len(names)) if j not in covered]  # a hinge without its base
    return out


def cumulative_slopes(names: list[str], coef) -> dict[str, float]:
    """Slope of the fitted curve on each segment, named by the feature that opens it."""
    coef = list(coef)
    slopes = {}
    for chain in chains(names):
        total = 0.0
        for j in chain:
            total += coef[j]
            slopes[names[j]] = total
    return slopes


def is_monotone(names: list[str], coef, tol: float = 0.0) -> bool:
    return all(s >= -tol for s in cumulative_slopes(names, coef).values())


def identified(names: list[str], x: np.ndarray) -> list[str]:
    """`names` less the hinges whose segment holds no data point.

    A segment (k_j, k_j+1] without a point of its own has no slope of its own:
    least squares then splits the rise across it arbitrarily (unconstrained,
    the minimum-norm split; under the constraint, a corner of the feasible
    set). Knots are dropped from the top so each kept segment holds a point.
    x: (rows, features), columns in the order of `names`.
    """
    drop = set()
    for chain in chains(names):
        if CHAIN_SEP in names[chain[0]]:
            continue  # a hinge without its base: nothing to merge into
        base = x[:, chain[0]]
        upper = np.inf
        for j in reversed(chain[1:]):
            knot = float(names[j].split(CHAIN_SEP, 1)[1])
            if np.any((base > knot) & (base <= upper)):
                upper = knot
            else:
                drop.add(j)
    return [n for j, n in enumerate(names) if j not in drop]


def nonneg_slope_lstsq(x: np.ndarray, b: np.ndarray, names: list[str]) -> np.ndarray:
    """argmin ||x @ a - b|| subject to every cumulative slope >= 0 (see the module doc).

    x: (rows, features) design matrix, its columns in the order of `names`;
    returns the hinge coefficients a.
    """
    from scipy.optimize import nnls

    groups = chains(names)
    # segment basis: column j of a chain minus the next one (a telescoping sum)
    seg = np.empty_like(x, dtype=float)
    for chain in groups:
        for pos, j in enumerate(chain):
            nxt = chain[pos + 1] if pos + 1 < len(chain) else None
            seg[:, j] = x[:, j] - (x[:, nxt] if nxt is not None else 0.0)
    scale = np.linalg.norm(seg, axis=0)
    scale[scale == 0] = 1.0
    s, _ = nnls(seg / scale, b, maxiter=50 * x.shape[1])
    s = s / scale
    a = np.zeros(x.shape[1])
    for chain in groups:  # back to hinges: a_0 = s_0, a_j = s_j - s_(j-1)
        prev = 0.0
        for j in chain:
            a[j] = s[j] - prev
            prev = s[j]
    return a
