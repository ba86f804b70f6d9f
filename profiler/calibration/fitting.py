"""Fitting routers and their thresholds without scoring a token on its own bank entry.

A kNN or cosine router scored on the entries it was built from finds each
token itself (similarity 1, its own label), so its calibration curve would
be worthless. Calibration scores are therefore out-of-fold: the calibration
prompts are split into folds by prompt, each fold is scored by a router fitted
on the others, and thresholds come from those scores (cross-conformal).
The router used afterwards is fitted on every calibration prompt.
"""

from __future__ import annotations

import numpy as np

from policies.routers.base import Query, Router, SkipExamples, make_router
from policies.routers.threshold import Curve, calibrate_thresholds, error_curve


def query_of(ex: SkipExamples) -> Query:
    return ex.query


def fold_of_groups(groups, folds: int, seed: int) -> dict[int, int]:
    """Prompt id -> fold (a seeded shuffle dealt round-robin); the same for every
    checkpoint, so a prompt is out of fold everywhere at once."""
    order = np.random.default_rng(seed).permutation(np.unique(np.asarray(groups)))
    return {int(g): f % folds for f, g in enumerate(order)}


def out_of_fold_scores(name: str, ex: SkipExamples, folds: int, seed: int) -> np.ndarray:
    fold_of = fold_of_groups(ex.group, folds, seed)
    fold = np.array([fold_of[g] for g in ex.group])
    scores = np.full(ex.safe.shape, -np.inf)
    for f in range(folds):
        test, train = fold == f, fold != f
        if test.any() and train.any():
            scores[test] = make_router(name, ex.subset(np.flatnonzero(train))).scores(
                query_of(ex.subset(np.flatnonzero(test))))
    return scores


def calibration_curves(name: str, examples: dict[int, SkipExamples], folds: int,
                       seed: int) -> dict[int, Curve]:
    return {i: error_curve(out_of_fold_scores(name, ex, folds, seed), ex.safe)
            for i, ex in examples.items()}


def fit_routers(name: str, examples: dict[int, SkipExamples]) -> dict[int, Router]:
    return {i: make_router(name, ex) for i, ex in examples.items()}


def thresholds_by_target(curves: dict[int, Curve], num_tokens: int,
                         targets: list[float]) -> dict[float, dict[int, float]]:
    return {t: calibrate_thresholds(curves, num_tokens, t) for t in targets}
