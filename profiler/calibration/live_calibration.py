"""Thresholds calibrated on live decoding of the calibration prompts (cross-fitted).

Offline labels test one skip at a time, from the full model's state, with
the full model's K/V behind it. Live decoding compounds skips, so thresholds
calibrated offline overshoot: on profiles/smollm2-48x16.json knn's offline
thresholds missed six of seven targets on held-out prompts (0.99 gave
0.974); the live-calibrated ones met all seven. Calibrating on the quantity
the target is about removes that gap:

- the precision levels of `policies/routers/threshold.py` give a
  one-parameter family of per-checkpoint thresholds (from the out-of-fold
  error curves);
- for each level on `LEVELS`, strictest first, every calibration prompt is
  decoded live with routers fitted on the other folds only (a router never
  sees the prompt it routes, as in `fitting.py`), and its disagreements with
  the full model are counted;
- a target takes the last level of that fixed sequence before the first one
  that breaks the conformal bound (disagreements + 1) / (tokens + 1) <= 1 - target
  (Angelopoulos & Bates, "Conformal risk control", 2022). A target no level
  meets never skips.

Cost: one live pass over the calibration prompts per level whose thresholds
differ from the previous level's (levels often coincide: a curve has few
distinct error counts), stopping once the most lenient target fails.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from tqdm import tqdm

from policies.routers.base import SkipExamples
from policies.routers.threshold import NEVER, Curve, threshold_at_precision
from profiler.calibration.fitting import fit_routers, fold_of_groups
from profiler.calibration.live_eval import LiveSetup, evaluate_live

LEVELS = (1.0, 0.995, 0.99, 0.985, 0.98, 0.975, 0.97, 0.96, 0.95, 0.94, 0.93, 0.92, 0.9,
          0.875, 0.85, 0.8, 0.75, 0.7, 0.6, 0.5)


@dataclass(frozen=True)
class LevelRun:
    precision: float
    thresholds: dict[int, float]
    disagreements: int
    tokens: int
    skipped_fraction: float

    def meets(self, target: float) -> bool:
        return (self.disagreements + 1) / (self.tokens + 1) <= 1.0 - target


def live_level_runs(lm, recs, examples: dict[int, SkipExamples], router: str,
                    curves: dict[int, Curve], plan, folds: int, seed: int, lowest_target: float,
                    kv_policy: str, action: str, live_prompts: int | None = None,
                    shortcuts: dict | None = None) -> list[LevelRun]:
    """Live passes over the calibration prompts (the first `live_prompts` of
    them, which keep their K/V), strictest level first, until the level that
    breaks `lowest_target` (included). Routers are fitted on every prompt out
    of the decoded prompt's fold."""
    groups = np.unique(np.concatenate([ex.group for ex in examples.values()]))
    fold_of = fold_of_groups(groups, folds, seed)
    decoded = len(recs) if live_prompts is None else min(live_prompts, len(recs))
    by_fold = [[k for k in range(decoded) if fold_of.get(k) == f] for f in range(folds)]
    fold_routers = [fit_routers(router, {i: ex.subset(np.flatnonzero(
        [fold_of[int(g)] != f for g in ex.group])) for i, ex in examples.items()})
        for f in range(folds)]
    runs = []
    for p in tqdm(LEVELS, desc=f"live calibration of {router}", unit="level", leave=False):
        thresholds = {i: threshold_at_precision(curves[i], p)[0] for i in curves}
        if runs and thresholds == runs[-1].thresholds:   # the same decisions: the same pass
            runs.append(replace(runs[-1], precision=float(p)))
            continue
        wrong = tokens = skipped = 0
        for f, members in enumerate(by_fold):
            if not members:
                continue
            res = evaluate_live(lm, [recs[k] for k in members],
                                LiveSetup(plan, fold_routers[f], thresholds, kv_policy=kv_policy,
                                          action=action, shortcuts=shortcuts or {}))
            wrong += int((~res.agree).sum())
            tokens += len(res.agree)
            skipped += float(res.skipped_layers.sum())
        runs.append(LevelRun(float(p), thresholds, wrong, tokens,
                             skipped / max(1, tokens) / plan.num_layers))
        if not runs[-1].meets(lowest_target):
            break
    return runs


def pick_thresholds(runs: list[LevelRun],
                    target: float) -> tuple[dict[int, float], LevelRun | None]:
    """The last level before the first that breaks `target` (NEVER everywhere if none)."""
    chosen = None
    for run in runs:
        if not run.meets(target):
            break
        chosen = run
    if chosen is None:
        return {i: NEVER for i in (runs[0].thresholds if runs else {})}, None
    return chosen.thresholds, chosen
