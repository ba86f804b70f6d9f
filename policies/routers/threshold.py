"""Per-checkpoint thresholds calibrated to a target agreement (conformal-style).

On a calibration split, every threshold tau at checkpoint c gives hits_c(tau)
skips of which errors_c(tau) change the token. Thresholds are allocated by
one common precision level p: at each checkpoint, tau_c(p) is the lowest
threshold reached by scanning down from the top while every prefix keeps
errors <= (1 - p) * hits (a fixed-sequence scan, so a non-monotone error
curve cannot be cherry-picked). p is then the lowest level whose total
calibration error, counted per token as a union bound over checkpoints,
satisfies the finite-sample risk-control bound
    (sum_c errors_c + 1) / (N + 1) <= 1 - target
(the "+1" is the conformal correction of Angelopoulos & Bates, "Conformal
risk control", 2022, for a loss bounded by 1). The agreement reached on a
held-out split is measured separately, never assumed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from policies.routers.base import decide
from skipsim.errors import UserError

PRECISION_GRID = np.concatenate([np.linspace(0.5, 0.99, 50), np.linspace(0.991, 1.0, 10)])
NEVER = float("inf")


def check_target(target: float) -> float:
    if not 0.0 < target <= 1.0:
        raise UserError(f"target agreement {target} must be in (0, 1]")
    return float(target)


@dataclass(frozen=True)
class Curve:
    """hits and errors at each candidate threshold, thresholds descending."""

    thresholds: np.ndarray
    hits: np.ndarray
    errors: np.ndarray


def error_curve(scores: np.ndarray, safe: np.ndarray, max_points: int = 400) -> Curve:
    finite = scores[np.isfinite(scores)]
    if finite.size == 0:
        return Curve(np.array([NEVER]), np.zeros(1, int), np.zeros(1, int))
    cand = np.unique(finite)[::-1]
    if cand.size > max_points:
        cand = cand[np.linspace(0, cand.size - 1, max_points).astype(int)]
    hits, errors = [], []
    rows = np.arange(len(scores))
    for t in cand:
        idx = decide(scores, t)
        hit = idx >= 0
        hits.append(int(hit.sum()))
        errors.append(int((hit & ~safe[rows, np.maximum(idx, 0)]).sum()))
    return Curve(cand, np.array(hits), np.array(errors))


def threshold_at_precision(curve: Curve, precision: float) -> tuple[float, int, int]:
    """(tau, hits, errors): the lowest threshold of the clean prefix."""
    best = (NEVER, 0, 0)
    for t, h, e in zip(curve.thresholds, curve.hits, curve.errors):
        if e > (1.0 - precision) * h + 1e-9:
            break
        best = (float(t), int(h), int(e))
    return best


def calibrate_thresholds(curves: dict[int, Curve], num_tokens: int,
                         target: float) -> dict[int, float]:
    """Per-checkpoint thresholds whose calibration error meets `target` (see module doc)."""
    check_target(target)
    for p in PRECISION_GRID:
        picks = {c: threshold_at_precision(cv, p) for c, cv in curves.items()}
        errors = sum(e for _, _, e in picks.values())
        if (errors + 1) / (num_tokens + 1) <= 1.0 - target:
            return {c: t for c, (t, _, _) in picks.items()}
    return {c: NEVER for c in curves}
