"""The skip-quality study: the oracle, every router's frontier, the gap split,
the learning curve, the block shortcut (`simulate calibrate`, after the
routers' target runs).

- oracle: the hindsight oracle decoded live on the held-out prompts
  (`oracle.py`), with its estimated frontier at the table's fractions;
- ladders: for every compared router, the offline walk of the held-out
  labels over the precision levels (`offline_walk.py`) picks the levels
  nearest the table's skipped fractions, and those are decoded live, so each
  router gets live points spread over 2-30% skipped, not only near its
  targets; with `compare_actions` the profile router's ladder is also run
  with the other skip actions (identity vs the learned shortcut);
- gap: each router's decisions at the main target's offline thresholds,
  split into the cells of `gap.py`;
- learning curve: the profile router refitted on growing prefixes of the
  calibration prompts (a random sample: the prompts are shuffled), its
  held-out offline-walk frontier at each size.
"""

from __future__ import annotations

import numpy as np
from tqdm import tqdm

from profiler.calibration.fitting import calibration_curves, fit_routers
from profiler.calibration.gap import gap_split
from profiler.calibration.live_eval import LiveSetup, evaluate_live
from profiler.calibration.offline_walk import levels_near, oracle_walk, walk_ladder
from profiler.calibration.oracle import oracle_frontier

TABLE_FRACTIONS = (0.02, 0.05, 0.1, 0.2, 0.3)


def run_oracle(cfg, lm, plan, test, test_ids, shortcuts=None) -> dict:
    action = cfg.action if cfg.action == "shortcut" else "identity"
    res = evaluate_live(lm, test, LiveSetup(plan, kv_policy=cfg.kv_policy, action=action,
                                            oracle_max_skip_blocks=cfg.max_skip_blocks,
                                            shortcuts=shortcuts or {}), test_ids)
    first_exit = plan.num_layers - plan.boundaries[1]
    return {"router": "oracle", "action": action, "agreement": round(res.agreement, 5),
            "skipped_fraction": round(res.skipped_fraction, 5), "tokens": int(len(res.agree)),
            "kl_nats": round(float(np.nanmean(res.kl)), 5),
            "frontier": {str(f): _round(a) for f, a in zip(TABLE_FRACTIONS, oracle_frontier(
                res.skipped_layers, res.agree, plan.num_layers, first_exit, TABLE_FRACTIONS))}}


def offline_oracle(plan, ex_test) -> dict:
    agreement, skipped = oracle_walk(plan, ex_test)
    return {"agreement": round(agreement, 5), "skipped_fraction": round(skipped, 5)}


def shortcut_quality(shortcuts: dict, plan, test) -> dict:
    """'i->j' -> held-out ||shortcut(h_i) - h_j|| / ||h_i - h_j|| (1 = no better than
    carrying the state unchanged), over the held-out decode states."""
    import torch

    out = {}
    for (i, j), sc in shortcuts.items():
        layer = plan.boundaries[j] if j < plan.num_blocks else plan.num_layers
        dep = torch.cat([r.states[:, plan.boundaries[i]].float()
                         for r in test if r.num_decode]).numpy()
        land = torch.cat([r.states[:, layer].float() for r in test if r.num_decode]).numpy()
        out[f"{i}->{j}"] = round(float(np.linalg.norm(sc.apply(dep) - land)
                                       / max(np.linalg.norm(dep - land), 1e-12)), 5)
    return out


def run_ladders(cfg, lm, plan, test, ex_test, fitted: dict, test_ids, shortcuts=None) -> list[dict]:
    """Live points of every router at the levels nearest the table's fractions."""
    rows = []
    jobs = [(name, cfg.action) for name in fitted]
    jobs += [(cfg.router, a) for a in cfg.compare_actions if a != cfg.action]
    for name, action in tqdm(jobs, desc="frontier ladders", unit="router", leave=False):
        curves, routers = fitted[name]
        ladder = walk_ladder(plan, routers, curves, ex_test)
        for row in levels_near(ladder, cfg.ladder_fractions):
            res = evaluate_live(lm, test, LiveSetup(plan, routers, row["thresholds"],
                                                    kv_policy=cfg.kv_policy, action=action,
                                                    shortcuts=shortcuts or {}), test_ids)
            rows.append({"router": name, "action": action, "level": row["level"],
                         "offline_agreement": round(row["agreement"], 5),
                         "offline_skipped": round(row["skipped_fraction"], 5),
                         "agreement": round(res.agreement, 5),
                         "skipped_fraction": round(res.skipped_fraction, 5),
                         "kl_nats": round(float(np.nanmean(res.kl)), 5),
                         "tokens": int(len(res.agree))})
    return rows


def offline_frontiers(cfg, plan, ex_cal, ex_test, fitted: dict) -> dict:
    """router -> the offline walk's agreement at the table's fractions and its most
    skipped fraction at >= 99%, for the live routers and `offline_routers` (fitted here)."""
    out = {}
    names = list(fitted) + [n for n in cfg.offline_routers if n not in fitted]
    for name in tqdm(names, desc="offline frontiers", unit="router", leave=False):
        curves, routers = fitted[name] if name in fitted else (
            calibration_curves(name, ex_cal, cfg.folds, cfg.seed), fit_routers(name, ex_cal))
        out[name] = _walk_summary(walk_ladder(plan, routers, curves, ex_test))
    return out


def _walk_summary(ladder: list[dict]) -> dict:
    pts = [{"skipped_fraction": r["skipped_fraction"], "agreement": r["agreement"]} for r in ladder]
    at99 = max([r["skipped_fraction"] for r in ladder if r["agreement"] >= 0.99], default=0.0)
    return {"skipped_at_99": round(at99, 5),
            "agreement_at": {str(x): _round(frontier_at(pts, x)) for x in TABLE_FRACTIONS}}


def run_gaps(plan, ex_test, fitted: dict, thresholds: dict) -> dict:
    """router -> gap split at its offline thresholds for the main target."""
    return {name: gap_split(plan, routers, thresholds[name], ex_test)
            for name, (_, routers) in fitted.items()}


def learning_curve(cfg, plan, ex_cal, ex_test, name: str) -> list[dict]:
    groups = np.unique(np.concatenate([ex.group for ex in ex_cal.values()]))
    out = []
    for f in tqdm(cfg.learning_curve_fractions, desc=f"learning curve of {name}", leave=False):
        keep = groups[:max(cfg.folds, int(round(len(groups) * f)))]
        sub = {i: ex.subset(np.flatnonzero(np.isin(ex.group, keep))) for i, ex in ex_cal.items()}
        curves = calibration_curves(name, sub, cfg.folds, cfg.seed)
        ladder = walk_ladder(plan, fit_routers(name, sub), curves, ex_test)
        out.append({"router": name, "prompts": int(len(keep)),
                    "tokens": int(len(next(iter(sub.values())))), **_walk_summary(ladder)})
    return out


def frontier_at(points: list[dict], fraction: float) -> float | None:
    """Agreement at `fraction` on the upper envelope of the measured points and
    (0 skipped, agreement 1): a policy can mix two operating points on a random
    share of tokens, so every chord between two points is reachable. None
    beyond the most skipping point (no extrapolation)."""
    pts = [(0.0, 1.0)] + [(p["skipped_fraction"], p["agreement"]) for p in points]
    best = None
    for sa, aa in pts:
        for sb, ab in pts:
            if sa <= fraction + 1e-12 and sb >= fraction - 1e-12 and (sb > sa or sb == fraction):
                a = aa if sb == sa else aa + (ab - aa) * (fraction - sa) / (sb - sa)
                best = a if best is None else max(best, a)
    return best


def _round(x):
    return None if x is None or (isinstance(x, float) and np.isnan(x)) else round(float(x), 5)
