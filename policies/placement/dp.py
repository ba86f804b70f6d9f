"""Exact dynamic program over plan suffixes with Pareto labels (the ILP's second proof).

Backwards from the last layer: a *label* is a suffix of a plan that starts
with a router at checkpoint c. For a token standing at c with group share
sigma (`evaluate.py`), the suffix fixes its expected remaining time
T(c) + sigma·S(c) (T the per-token parts, S the fixed parts it shares: both
independent of sigma, as the stayers' share-weighted mass is sigma × a factor
of the option and one that skips takes the share of its new group) and E[Σ log keep] G(c); a router
further up needs these values at every checkpoint its landings can reach,
i.e. at the suffix's checkpoints in the window [c, c + W - 1] (W the
furthest landing offset). So a label keeps (checkpoint, T, S, G) for its
window plus its bank bytes M. Two labels with the same window checkpoints
compare componentwise (T, S, M smaller and G larger is better) and dominated
ones are dropped: no optimal plan is lost, as the plan above a suffix sees it
only through these numbers, with non-negative weights.
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
    window: tuple[tuple[int, float, float, float], ...]  # (checkpoint, T, S, G), ascending
    bank_bytes: int
    plan: tuple[tuple[int, str], ...]             # (router layer, option key), ascending

    def key(self) -> tuple[int, ...]:
        return tuple(n for n, _, _, _ in self.window)

    def dominates(self, other: Label, eps: float = 1e-15) -> bool:
        return (self.bank_bytes <= other.bank_bytes
                and all(a[1] <= b[1] + eps and a[2] <= b[2] + eps and a[3] >= b[3] - eps
                        for a, b in zip(self.window, other.window)))


def _prune(labels: list[Label]) -> list[Label]:
    by_key: dict = {}
    for lab in labels:
        by_key.setdefault(lab.key(), []).append(lab)
    kept = []
    for group in by_key.values():
        group.sort(key=lambda x: (x.window[0][1], x.window[0][2]))
        front: list[Label] = []
        for lab in group:
            if not any(f.dominates(lab) for f in front):
                front = [f for f in front if not lab.dominates(f)] + [lab]
        kept.extend(front)
    return kept


def solve_dp(inputs: PlanInputs) -> tuple[Plan, float]:
    """(an optimal plan, its expected time per token)."""
    L = inputs.num_layers
    kvf, kvp = inputs.kv_projection.fixed_s, inputs.kv_projection.per_token_s
    lmf = inputs.lm_head.fixed_s
    cands = [c for c in inputs.candidates if inputs.options_at(c)]
    width = max([land - c for c in cands for o in inputs.options_at(c)
                 for land, _ in o.landings if land < L] + [1])
    exit_values = (0.0, lmf, 0.0)  # a token at the LM head: its share of the call
    labels = {L: [Label(((L, *exit_values),), 0, ())]}
    # without a bank budget bytes cannot rule a plan out: keep them out of dominance
    track_bytes = math.isfinite(inputs.bank_budget_bytes)

    for c in reversed(cands):
        new = []
        for n, suffixes in labels.items():
            blk_p, blk_f = inputs.block_per_token_s(n - c), inputs.block_fixed_s(n - c)
            for lab in suffixes:
                values = {m: (t, s, g) for m, t, s, g in lab.window}
                nodes = sorted(values)
                for o in inputs.options_at(c):
                    t, s, g, moved = o.lookup.per_token_s, o.lookup.fixed_s, 0.0, 0.0
                    for land, p in o.landings:
                        a = o.hit_prob * p
                        if a == 0.0:
                            continue
                        to = L if land >= L else max([m for m in nodes if m <= land], default=c)
                        if to == c:
                            continue
                        tt, ss, gg = exit_values if to == L else values[to]
                        share = inputs.departure_share(a)
                        moved += a
                        t += a * ((to - c) * (kvp + share * kvf) + tt + share * ss)
                        g += a * (o.log_keep + gg)
                    tn, sn, gn = values[n]
                    t += (1.0 - moved) * (blk_p + tn)
                    s += inputs.stay_factor(moved) * (blk_f + sn)
                    g += (1.0 - moved) * gn
                    window = ((c, t, s, g),) + tuple(x for x in lab.window
                                                     if x[0] <= c + width - 1)
                    new.append(Label(window, lab.bank_bytes + o.bank_entries
                                     * inputs.entry_bytes * track_bytes,
                                     ((c, o.key),) + lab.plan))
        labels[c] = _prune(new)
    best, best_t = None, float("inf")
    base = inputs.head_s + inputs.lm_head.per_token_s
    for n, suffixes in labels.items():
        blk_p, blk_f = inputs.block_per_token_s(n), inputs.block_fixed_s(n)
        for lab in suffixes:
            tn, sn, gn = next((t, s, g) for m, t, s, g in lab.window if m == n)
            total = base + blk_p + tn + inputs.first_share * (blk_f + sn)
            ok = (gn >= inputs.min_log_agreement - 1e-9
                  and lab.bank_bytes <= inputs.bank_budget_bytes + 1e-9)
            if ok and total < best_t:
                best, best_t = lab, total
    plan = Plan((0, *(c for c, _ in best.plan), L), tuple(k for _, k in best.plan))
    return plan, best_t
