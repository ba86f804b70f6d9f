"""Exact dynamic program over plan suffixes with Pareto labels (the ILP's second proof).

Backwards from the last layer: a *label* is a suffix of a plan that starts
with a router at checkpoint c. For a token standing at c, the suffix fixes
its expected remaining flow-priced time T(c) and E[Σ log keep] G(c); a
router further up needs these values at every checkpoint its landings can
reach, i.e. at the suffix's checkpoints in the window [c, c + W - 1] (W the
furthest landing offset). So a label keeps (checkpoint, T, G) for its window
plus its per-round fixed time F and its bank bytes M, all additive. Two
labels with the same window checkpoints compare componentwise (T, F, M
smaller and G larger is better) and dominated ones are dropped: no optimal
plan is lost, as the plan above a suffix sees it only through these numbers.
At node 0 the best label meeting the floor and the bank budget is the
optimum. Exact, no discretisation; polynomial when few labels survive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from policies.placement.base import Plan
from policies.placement.inputs import PlanInputs


@dataclass(frozen=True)
class Label:
    window: tuple[tuple[int, float, float], ...]  # (checkpoint, T, G), ascending
    fixed_s: float
    bank_bytes: int
    plan: tuple[tuple[int, str], ...]             # (router layer, option key), ascending

    def key(self) -> tuple[int, ...]:
        return tuple(n for n, _, _ in self.window)

    def dominates(self, other: Label, eps: float = 1e-15) -> bool:
        return (self.fixed_s <= other.fixed_s + eps and self.bank_bytes <= other.bank_bytes
                and all(a[1] <= b[1] + eps and a[2] >= b[2] - eps
                        for a, b in zip(self.window, other.window)))


def _prune(labels: list[Label]) -> list[Label]:
    by_key: dict = {}
    for lab in labels:
        by_key.setdefault(lab.key(), []).append(lab)
    kept = []
    for group in by_key.values():
        group.sort(key=lambda x: (x.window[0][1], x.fixed_s))
        front: list[Label] = []
        for lab in group:
            if not any(f.dominates(lab) for f in front):
                front = [f for f in front if not lab.dominates(f)] + [lab]
        kept.extend(front)
    return kept


def solve_dp(inputs: PlanInputs) -> tuple[Plan, float]:
    """(an optimal plan, its expected time per token)."""
    L, B = inputs.num_layers, inputs.batch
    per_visit = inputs.per_visit
    kv = inputs.kv_projection.fixed_s / B + inputs.kv_projection.per_token_s
    cands = [c for c in inputs.candidates if inputs.options_at(c)]
    width = max([land - c for c in cands for o in inputs.options_at(c)
                 for land, _ in o.landings if land < L] + [1])
    labels = {L: [Label(((L, 0.0, 0.0),), 0.0, 0, ())]}
    # without a bank budget bytes cannot rule a plan out: keep them out of dominance
    track_bytes = math.isfinite(inputs.bank_budget_bytes)

    def block(i: int, j: int) -> tuple[float, float]:
        """(flow-priced, per-round) time of block [i, j)."""
        fixed, per_token = inputs.block_fixed_s(j - i), inputs.block_per_token_s(j - i)
        return (fixed + per_token, 0.0) if per_visit else (per_token, fixed / B)

    for c in reversed(cands):
        new = []
        for n, suffixes in labels.items():
            blk_flow, blk_fixed = block(c, n)
            for lab in suffixes:
                values = {m: (t, g) for m, t, g in lab.window}
                nodes = sorted(values)
                for o in inputs.options_at(c):
                    look_flow = o.lookup.fixed_s + o.lookup.per_token_s if per_visit \
                        else o.lookup.per_token_s
                    look_fixed = 0.0 if per_visit else o.lookup.fixed_s / B
                    t, g, moved = look_flow, 0.0, 0.0
                    for land, p in o.landings:
                        mass = o.hit_prob * p
                        if mass == 0.0:
                            continue
                        to = L if land >= L else max([m for m in nodes if m <= land], default=c)
                        if to == c:
                            continue
                        tt, gg = (0.0, 0.0) if to == L else values[to]
                        moved += mass
                        t += mass * ((to - c) * kv + tt)
                        g += mass * (o.log_keep + gg)
                    tn, gn = values[n]
                    t += (1.0 - moved) * (blk_flow + tn)
                    g += (1.0 - moved) * gn
                    window = ((c, t, g),) + tuple(x for x in lab.window if x[0] <= c + width - 1)
                    new.append(Label(window, lab.fixed_s + blk_fixed + look_fixed,
                                     lab.bank_bytes + o.bank_entries * inputs.entry_bytes
                                     * track_bytes,
                                     ((c, o.key),) + lab.plan))
        labels[c] = _prune(new)
    best, best_t = None, float("inf")
    for n, suffixes in labels.items():
        blk_flow, blk_fixed = block(0, n)
        for lab in suffixes:
            tn, gn = next((t, g) for m, t, g in lab.window if m == n)
            total = blk_flow + tn + blk_fixed + lab.fixed_s + inputs.head_s
            ok = (gn >= inputs.min_log_agreement - 1e-9
                  and lab.bank_bytes <= inputs.bank_budget_bytes + 1e-9)
            if ok and total < best_t:
                best, best_t = lab, total
    plan = Plan((0, *(c for c, _ in best.plan), L), tuple(k for _, k in best.plan))
    return plan, best_t
