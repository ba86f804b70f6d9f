"""`measured`: router outcomes sampled from a SkipProfile measured on the real model.

At an inner checkpoint of the simulator's plan, a token skips with the
profile's hit probability at that checkpoint's layer (for the chosen target
agreement), lands according to the profile's landing distribution, and the
skip changes the greedy token with the profile's error probability given a
hit. Profile landings are layers; on a different plan a landing maps to the
deepest plan checkpoint at or before that layer (skipping no further than
measured), and checkpoints the profile did not measure never skip.
The default profile is the committed quick-mode calibration of SmolLM2.

KV holes: the error probability given a hit comes from counterfactual labels
in which earlier positions keep the full model's K/V, i.e. holes repaired
exactly. A KV policy's factor on it is the profile's live disagreement under
that policy over the disagreement with the full model's K/V (same router,
same thresholds). A profile whose full-K/V run never disagreed gives no
ratio (both committed SmolLM2 profiles at 0.99: 100% agreement with full
K/V, so the fallbacks apply). `repair` is taken as `full`; `none` was not
measured and keeps the placeholder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from policies.checkpoint_plan import CheckpointPlan
from profiler.calibration.skip_profile import SkipProfile
from simulator.skip_model import SkipModel, SkipOutcome, register_skip_model
from skipsim.errors import UserError

DEFAULT_PROFILE = Path(__file__).resolve().parents[2] / "profiler" / "profiles" / "smollm2-quick.json"


@register_skip_model("measured")
class MeasuredSkipModel(SkipModel):
    name = "measured"
    label = "measured SkipProfile"
    uses_request_ids = False  # decide() reads only how many tokens there are

    def __init__(self, profile: SkipProfile | str | Path | None = None,
                 target: float | str | None = None):
        self.profile = profile if isinstance(profile, SkipProfile) else \
            SkipProfile.load(profile or DEFAULT_PROFILE)
        targets = self.profile.targets()
        key = str(self.profile.target_agreement if target is None else float(target))
        match = [t for t in targets if float(t) == float(key)]
        if not match:
            raise UserError(f"the skip profile has no figures for target {key} "
                            f"(it has {', '.join(targets)})")
        self.target = match[0]
        self.label = f"measured {self.profile.router} @ {float(self.target):g}"
        from policies.routers import ROUTERS

        self.skip_action = self.profile.action
        router = ROUTERS.get(self.profile.router)
        self.router_reads_lm_head = bool(router and router.needs_exit_entropy)

    @classmethod
    def from_options(cls, plan: CheckpointPlan, options: dict) -> "MeasuredSkipModel":
        """`--skip-config PROFILE.json` picks another SkipProfile than the committed one,
        `--skip-target T` another of its calibrated targets."""
        return cls(profile=options.get("skip_config"), target=options.get("skip_target"))

    def kv_hole_p_change_scale(self, kv_policy: str) -> float:
        measured = measured_kv_scales(self.profile)
        key = "full" if kv_policy == "repair" else kv_policy
        return measured[key] if key in measured else super().kv_hole_p_change_scale(kv_policy)

    def decide(self, plan: CheckpointPlan, at, request_ids, token_indices, rng):
        n = len(request_ids)
        landing = np.full(n, at, dtype=np.int64)
        p_change = np.zeros(n)
        cp = self.profile.checkpoint_at_layer(plan.boundaries[at])
        if cp is None or n == 0:
            return SkipOutcome(landing, p_change)
        stats = cp.by_target[self.target]
        hit = rng.random(n) < stats.hit_prob
        if hit.any() and sum(stats.landing_probs) > 0:
            probs = np.asarray(stats.landing_probs, float)
            drawn = rng.choice(len(probs), size=int(hit.sum()), p=probs / probs.sum())
            mapped = np.array([map_landing(plan, at, cp.landing_layers[d], self.profile.num_layers)
                               for d in range(len(probs))])
            landing[hit] = mapped[drawn]
        skipped = landing != at
        p_change[skipped] = stats.error_prob
        return SkipOutcome(landing, p_change)


def map_landing(plan: CheckpointPlan, at: int, landing_layer: int, num_layers: int) -> int:
    """Checkpoint index of `plan` for a measured landing layer (exit stays exit)."""
    if landing_layer >= num_layers:
        return plan.num_blocks
    later = [c for c in range(at + 1, plan.num_blocks) if plan.boundaries[c] <= landing_layer]
    return later[-1] if later else at


def measured_kv_scales(profile: SkipProfile) -> dict[str, float]:
    """KV policy -> live disagreement / disagreement with the full model's K/V,
    for the profile's router at its target; {} when `full` was not measured or
    never disagreed (no ratio to take)."""
    calibration = profile.config.get("threshold_calibration")
    rows = {r["kv_policy"]: 1.0 - r["agreement"] for r in profile.live.get("comparison", [])
            if r["router"] == profile.router and r.get("target") == profile.target_agreement
            and r.get("calibration", calibration) == calibration}
    base = rows.get("full", 0.0)
    return {k: v / base for k, v in rows.items()} if base > 0 else {}
