"""A router's held-out frontier from the counterfactual labels alone (no live decoding).

Each held-out token walks the plan as the simulator's skip model would: at
the first inner checkpoint the router decides from the token's recorded
(full-model) features; a skip to landing j counts b_j - b_i skipped layers
(an exit, the rest) and, if the label calls it unsafe, the token is lost;
the walk goes on from j. The features at j are the full model's, not the
carried state's, and K/V effects on later tokens are ignored, so the walk is
optimistic against live decoding; it is cheap (no model), which is what the
learning curve and the choice of live evaluation points need.

Thresholds come from a one-parameter family, the precision levels of the
out-of-fold error curves (`threshold_at_precision`), strict to lenient.
"""

from __future__ import annotations

import numpy as np

from policies.routers.base import SkipExamples, decide
from policies.routers.threshold import threshold_at_precision
from profiler.calibration.live_calibration import LEVELS

LADDER = LEVELS + (0.4, 0.3, 0.2, 0.1, 0.0)


def walk(plan, decisions: dict[int, np.ndarray], examples: dict[int, SkipExamples]
         ) -> tuple[float, float]:
    """(agreement, skipped fraction) of the walk; decisions[i] = landing index
    chosen at checkpoint i for every token (-1 = run on)."""
    k, L = plan.num_blocks, plan.num_layers
    n = len(next(iter(examples.values())))
    at = np.ones(n, dtype=np.int64)
    lost = np.zeros(n, bool)
    skipped = np.zeros(n)
    for i in plan.router_checkpoints:
        here = np.flatnonzero(at == i)
        d = decisions[i][here]
        hit = d >= 0
        ex = examples[i]
        land = np.array(ex.landings)[np.maximum(d, 0)]
        lost[here[hit]] |= ~ex.safe[here[hit], d[hit]]
        layers = np.array([plan.boundaries[j] if j < k else L for j in land]) - plan.boundaries[i]
        skipped[here[hit]] += layers[hit]
        at[here] = np.where(hit, land, i + 1)
    return float(1.0 - lost.mean()), float(skipped.mean() / L)


def oracle_walk(plan, examples: dict[int, SkipExamples]) -> tuple[float, float]:
    """The offline oracle: every token takes the deepest landing its labels call
    safe at each checkpoint it reaches (agreement 1 by construction in the walk)."""
    decisions = {}
    for i, ex in examples.items():
        any_safe = ex.safe.any(1)
        deepest = ex.safe.shape[1] - 1 - np.argmax(ex.safe[:, ::-1], 1)
        decisions[i] = np.where(any_safe, deepest, -1)
    return walk(plan, decisions, examples)


def walk_ladder(plan, routers, curves, examples, levels=LADDER) -> list[dict]:
    """One walk per precision level: [{level, thresholds, agreement, skipped_fraction}]."""
    scores = {i: routers[i].scores(examples[i].query) for i in examples}
    out, last = [], None
    for p in levels:
        th = {i: threshold_at_precision(curves[i], p)[0] for i in curves}
        if th == last:
            continue
        last = th
        agree, skipped = walk(plan, {i: decide(scores[i], th[i]) for i in examples}, examples)
        out.append({"level": float(p), "thresholds": th, "agreement": agree,
                    "skipped_fraction": skipped})
    return out


def levels_near(ladder: list[dict], fractions) -> list[dict]:
    """The ladder rows whose skipped fraction is nearest each wanted fraction (distinct)."""
    picked = []
    for f in fractions:
        row = min(ladder, key=lambda r: abs(r["skipped_fraction"] - f))
        if row not in picked:
            picked.append(row)
    return picked
