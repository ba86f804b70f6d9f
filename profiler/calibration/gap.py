"""Where a router's gap to the oracle comes from (held-out counterfactual labels).

At every (token, checkpoint) pair of the held-out prompts the labels say
which landings keep the full model's token. A router's decision there falls
in one of five cells:
  no_safe_skip        it ran on, and no landing was safe (nothing to gain)
  missed              it ran on, though some landing was safe
  shallower           it skipped safely, but a deeper landing was safe too
  deepest             it took the deepest safe landing (what the oracle takes)
  unsafe              it skipped to a landing that changes the token
"Missed" and "shallower" are layers left on the table, "unsafe" is agreement
lost; "no_safe_skip" is the part of the gap no router can close at this
plan. The layer counts say how many layers each cell leaves (missed,
shallower) or the oracle would have had available (all cells).
"""

from __future__ import annotations

import numpy as np

from policies.routers.base import decide

CELLS = ("no_safe_skip", "missed", "shallower", "deepest", "unsafe")


def gap_split(plan, routers, thresholds, examples) -> dict:
    counts = dict.fromkeys(CELLS, 0)
    layers_left = dict.fromkeys(("missed", "shallower"), 0)
    available = taken = 0
    for i, ex in examples.items():
        d = decide(routers[i].scores(ex.query), thresholds.get(i, float("inf")))
        span = np.array([plan.layers_between(i, j) if j < plan.num_blocks
                         else plan.num_layers - plan.boundaries[i] for j in ex.landings])
        any_safe = ex.safe.any(1)
        deepest = np.where(any_safe, ex.safe.shape[1] - 1 - np.argmax(ex.safe[:, ::-1], 1), -1)
        best = np.where(any_safe, span[np.maximum(deepest, 0)], 0)
        hit = d >= 0
        ok = hit & ex.safe[np.arange(len(d)), np.maximum(d, 0)]
        cell = np.select([~hit & ~any_safe, ~hit & any_safe,
                          ok & (d < deepest), ok & (d == deepest)],
                         [0, 1, 2, 3], 4)
        for c, name in enumerate(CELLS):
            counts[name] += int((cell == c).sum())
        layers_left["missed"] += int(best[cell == 1].sum())
        layers_left["shallower"] += int((best - span[np.maximum(d, 0)])[cell == 2].sum())
        available += int(best.sum())
        taken += int(span[np.maximum(d, 0)][ok].sum())
    total = max(1, sum(counts.values()))
    return {"fractions": {k: round(v / total, 5) for k, v in counts.items()},
            "pairs": total, "layers_left": layers_left, "layers_available": available,
            "layers_taken_safely": taken}
