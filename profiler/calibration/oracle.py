"""The hindsight oracle: the ceiling any router under the same plan and KV policy can reach.

Decoding live (teacher-forced, KV holes filled by the run's policy), at each
inner checkpoint the oracle tries the candidate landings of every token
standing there, deepest first (exit, then i + max_skip_blocks, ... i + 1):
the token's carried state runs every layer from the landing to the end
against the live cache, and the first landing whose greedy token is the full
model's is taken; a token with no safe landing runs the block. A token that
skipped anywhere ends on the last path it verified, so it keeps the full
model's token. A token that skipped nowhere can still lose it: earlier
tokens' skips changed the K/V it attends to (the KV-hole policy's holes and
the carried states' rows). The oracle's agreement is therefore measured, not
assumed, and its losses are exactly the price of earlier skips' K/V. (Greedy,
not a global optimum: a shallower skip could open a deeper later one, and
skipping less on one token could save a later one. The trials' K/V writes at
the token's own position are overwritten by its real path before any other
token reads them.)

Beyond the oracle's skipped fraction s*, more skipping costs tokens. The
oracle frontier there is estimated by sending whole tokens to the deepest
possible exit (the first checkpoint): first the tokens the oracle lost
anyway (free), then the ones it kept, fewest extra layers first, each
costing one token (`oracle_frontier`; effects on later tokens' K/V are
ignored, so it is an estimate, not a bound). Below s* the frontier is the
straight line from (0, 1) to the oracle's point (skip on a random share).
"""

from __future__ import annotations

import numpy as np
import torch

from profiler.calibration.counterfactual import candidate_landings


@torch.no_grad()
def oracle_route(lm, plan, i: int, max_skip_blocks: int, h, rows, slots, positions, cache,
                 rope, targets, shortcuts: dict | None = None) -> np.ndarray:
    """Landing layer (L + 1 = exit; the checkpoint's own layer = run on) of each
    standing token `rows` of h [n, 1, d]: the deepest that keeps `targets`.
    With `shortcuts` ((i, j) -> BlockShortcut) the trial carries the mapped state."""
    k, L = plan.num_blocks, lm.num_layers
    landings = candidate_landings(plan, i, max_skip_blocks)
    chosen = np.full(len(rows), plan.boundaries[i])
    open_ = np.ones(len(rows), dtype=bool)
    for j in reversed(landings):
        u = np.flatnonzero(open_)
        if len(u) == 0:
            break
        r = torch.from_numpy(rows[u])
        x = h[r].clone()
        if shortcuts and (i, j) in shortcuts:
            x[:, 0] = torch.from_numpy(shortcuts[(i, j)].apply(x[:, 0].numpy())).float()
        if j < k:
            rp = (rope[0][r], rope[1][r])
            for layer in range(plan.boundaries[j], L):
                x = lm.decode_layer(layer, x, slots[r], positions[r], cache, rp)
        ok = (lm.logits(x[:, 0]).argmax(-1) == targets[u]).numpy()
        chosen[u[ok]] = plan.boundaries[j] if j < k else L + 1
        open_[u[ok]] = False
    return chosen


def oracle_frontier(skipped_layers: np.ndarray, agree: np.ndarray, num_layers: int,
                    max_skip_layers: int, fractions) -> list[float]:
    """Estimated oracle agreement at each skipped fraction (see the module doc);
    nan beyond every token skipping `max_skip_layers`."""
    s = np.asarray(skipped_layers, dtype=float)
    agree = np.asarray(agree, bool)
    n = len(s)
    s_star, a_star = s.sum() / (n * num_layers), agree.mean()
    gain = np.maximum(max_skip_layers - s, 0.0)
    free = gain[~agree].sum()
    costly = np.cumsum(np.sort(gain[agree]))     # after converting 1, 2, ... kept tokens
    out = []
    for f in fractions:
        need = f * n * num_layers - s.sum()
        if need <= 1e-9:
            out.append(float(1.0 - (1.0 - a_star) * f / s_star) if s_star > 0 else 1.0)
        elif need <= free + 1e-9:
            out.append(float(a_star))
        else:
            m = int(np.searchsorted(costly, need - free - 1e-9)) + 1
            out.append(float(a_star - m / n) if m <= len(costly) else float("nan"))
    return out
