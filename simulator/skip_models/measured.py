"""`measured`: router outcomes sampled from a SkipProfile measured on the real model.

At an inner checkpoint of the simulator's plan, a token skips with the
profile's hit probability at that checkpoint's layer (for the chosen target
agreement), lands according to the profile's landing distribution, and the
skip changes the greedy token with the profile's error probability given a
hit. Profile landings are layers; on a different plan a landing maps to the
deepest plan checkpoint at or before that layer (skipping no further than
measured), and checkpoints the profile did not measure never skip.

Another model than the profile's (e.g. Llama-3-8B's 32 layers against
SmolLM2's 30) gets the figures **transferred by relative depth**: plan
checkpoint b of L layers reads the profile's checkpoint at layer
round(b * L_profile / L), and landings map back the same way. That is an
assumption (skip behaviour as a function of relative depth carries over
between models), not a measurement; the model's notes say so in the output.

The default profile is the best measured one: the reference calibration
(`smollm2-48x16.json`: 48 + 16 prompts, 64 new tokens; the quick profile's
routers never fire at its 0.99 target). `notes` names the checkpoints of a
plan whose router never fires at the chosen target: their lookups are pure cost.

Per-checkpoint operating points (`targets_by_layer`, as a plan from
`simulate plan` sets them): a router at layer l uses that key's figures
instead of the model-wide target; a key "bank:F" takes the bank-size
sweep's figures for a bank of F × the calibration bank. `--skip-config
plan.json` reads the plan's embedded profile and operating points.

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

PROFILES = Path(__file__).resolve().parents[2] / "profiler" / "profiles"
DEFAULT_PROFILE = PROFILES / "smollm2-48x16.json"
# the planner's default: live-calibrated thresholds, 7 targets, the bank sweep
PLAN_PROFILE = DEFAULT_PROFILE


@register_skip_model("measured")
class MeasuredSkipModel(SkipModel):
    name = "measured"
    label = "measured SkipProfile"
    uses_request_ids = False  # decide() reads only how many tokens there are

    def __init__(self, profile: SkipProfile | str | Path | None = None,
                 target: float | str | None = None,
                 targets_by_layer: dict[int, str] | None = None):
        self.profile = profile if isinstance(profile, SkipProfile) else \
            SkipProfile.load(profile or DEFAULT_PROFILE)
        targets = self.profile.targets()
        key = str(self.profile.target_agreement if target is None else float(target))
        match = [t for t in targets if float(t) == float(key)]
        if not match and targets:  # (a plan without routers embeds no figures)
            raise UserError(f"the skip profile has no figures for target {key} "
                            f"(it has {', '.join(targets)})")
        self.target = match[0] if match else key
        self.label = f"measured {self.profile.router} @ {float(self.target):g}"
        self._memo: dict = {}
        self.by_layer = {int(k): str(v) for k, v in (targets_by_layer or {}).items()}
        for layer, key in self.by_layer.items():
            cp = self.profile.checkpoint_at_layer(layer)
            if cp is not None and operating_point(cp, key) is None:  # unmeasured: never skips
                raise UserError(f"the skip profile has no figures for {key!r} at layer {layer}")
        if self.by_layer:
            self.label = (f"measured {self.profile.router} @ per-router points "
                          f"{','.join(f'{k}:{v}' for k, v in sorted(self.by_layer.items()))}")
        from policies.routers import ROUTERS

        self.skip_action = self.profile.action
        router = ROUTERS.get(self.profile.router)  # CALM-style routers read the LM head
        self.router_reads_lm_head = bool(router and router.needs_exit_entropy)

    @classmethod
    def from_options(cls, plan: CheckpointPlan, options: dict) -> MeasuredSkipModel:
        """`--skip-config PROFILE.json` picks another SkipProfile than the committed one,
        `--skip-target T` another of its calibrated targets; a plan file from
        `simulate plan` brings its own profile and per-router operating points."""
        path = options.get("skip_config")
        if path and str(path).endswith(".json") and _is_plan(path):
            from policies.placement.plan_file import read_plan

            choice = read_plan(path)
            return cls(profile=choice.skip_profile, target=options.get("skip_target"),
                       targets_by_layer=choice.operating_points)
        return cls(profile=path, target=options.get("skip_target"),
                   targets_by_layer=options.get("skip_targets_by_layer"))

    def _checkpoint(self, plan: CheckpointPlan, at: int):
        return self.profile.checkpoint_at_layer(
            profile_layer(plan.boundaries[at], plan.num_layers, self.profile.num_layers))

    def _resolved(self, plan: CheckpointPlan, at: int):
        """(profile checkpoint, plan landing per profile landing) at `at`,
        computed once per plan and checkpoint (decide runs every router step)."""
        key = (plan.boundaries, at)
        found = self._memo.get(key)
        if found is None:
            cp = self._checkpoint(plan, at)
            mapped = None if cp is None else np.array(
                [map_landing(plan, at, layer, self.profile.num_layers)
                 for layer in cp.landing_layers], dtype=np.int64)
            found = self._memo[key] = (cp, mapped)
        return found

    def notes(self, plan: CheckpointPlan) -> list[str]:
        out = []
        p = self.profile
        if plan.num_layers != p.num_layers:
            out.append(f"skip figures of {p.model} ({p.num_layers} layers) transferred by "
                       f"relative depth to {plan.num_layers} layers: an assumption, not a "
                       "measurement of this model")
        silent = [c for c in plan.router_checkpoints
                  if (cp := self._checkpoint(plan, c)) is None
                  or self._stats(cp).hit_prob <= 0]
        where = ("at their operating points" if self.by_layer
                 else f"at target {float(self.target):g}")
        return out + self.never_fire_note(plan, silent, f"{where} in this profile")

    def _stats(self, cp):
        """The figures a router at profile checkpoint `cp` runs at."""
        return (cp.by_target[self.target] if cp.layer not in self.by_layer
                else operating_point(cp, self.by_layer[cp.layer]))

    def kv_hole_p_change_scale(self, kv_policy: str) -> float:
        measured = measured_kv_scales(self.profile)
        if kv_policy in measured:
            return measured[kv_policy]
        return super().kv_hole_p_change_scale(kv_policy)

    def decide(self, plan: CheckpointPlan, at, request_ids, token_indices, rng):
        n = len(request_ids)
        landing = np.full(n, at, dtype=np.int64)
        p_change = np.zeros(n)
        cp, mapped = self._resolved(plan, at)
        if cp is None or n == 0:
            return SkipOutcome(landing, p_change)
        stats = self._stats(cp)
        hit = rng.random(n) < stats.hit_prob
        if hit.any() and sum(stats.landing_probs) > 0:
            probs = np.asarray(stats.landing_probs, float)
            drawn = rng.choice(len(probs), size=int(hit.sum()), p=probs / probs.sum())
            landing[hit] = mapped[drawn]
        skipped = landing != at
        p_change[skipped] = stats.error_prob
        return SkipOutcome(landing, p_change)

    def decide_hits(self, plan, at, request_ids, token_indices, rng):
        # `decide`'s draws (the same calls in the same order), with only the
        # tokens that hit gathered: a hit whose landing maps back to `at` runs on
        n = len(request_ids)
        cp, mapped = self._resolved(plan, at)
        if cp is None or n == 0:
            return _NO_HITS
        stats = self._stats(cp)
        hit = (rng.random(n) < stats.hit_prob).nonzero()[0]
        if not len(hit) or not sum(stats.landing_probs) > 0:
            return _NO_HITS
        probs = np.asarray(stats.landing_probs, float)
        landing = mapped[rng.choice(len(probs), size=len(hit), p=probs / probs.sum())]
        moved = landing != at
        hit, landing = hit[moved], landing[moved]
        p_change = np.empty(len(hit))
        p_change.fill(stats.error_prob)
        return hit, landing, p_change


_NO_HITS = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))


def profile_layer(boundary: int, num_layers: int, profile_layers: int) -> int:
    """The profile's layer at the relative depth of `boundary` in a model of
    `num_layers` layers (itself when the layer counts agree)."""
    if num_layers == profile_layers:
        return boundary
    return int(boundary * profile_layers / num_layers + 0.5)
def _is_plan(path) -> bool:
    from policies.placement.plan_file import is_plan_file

    return is_plan_file(path)


def operating_point(cp, key: str):
    """A checkpoint's figures (threshold, hit, landing and error rates) at a
    SkipProfile key: "0.9" a calibrated target, "bank:0.5" the bank-size
    sweep's half bank; None when the profile lacks it."""
    if key.startswith("bank:"):
        return cp.by_bank_fraction.get(key[5:])
    match = [t for t in cp.by_target if float(t) == float(key)]
    return cp.by_target[match[0]] if match else None


def map_landing(plan: CheckpointPlan, at: int, landing_layer: int, num_layers: int) -> int:
    """Checkpoint index of `plan` for a landing layer measured in a model of
    `num_layers` layers, by relative depth (exit stays exit)."""
    if landing_layer >= num_layers:
        return plan.num_blocks
    later = [c for c in range(at + 1, plan.num_blocks)
             if profile_layer(plan.boundaries[c], plan.num_layers, num_layers) <= landing_layer]
    return later[-1] if later else at


def measured_kv_scales(profile: SkipProfile) -> dict[str, float]:
    """KV policy -> live disagreement / disagreement with the full model's K/V
    (calibration's `repair`), for the profile's router at its target; {} when
    `repair` was not measured or never disagreed (no ratio to take)."""
    calibration = profile.config.get("threshold_calibration")
    rows = {r["kv_policy"]: 1.0 - r["agreement"] for r in profile.live.get("comparison", [])
            if r["router"] == profile.router and r.get("target") == profile.target_agreement
            and r.get("calibration", calibration) == calibration}
    base = rows.get("repair", 0.0)
    return {k: v / base for k, v in rows.items()} if base > 0 else {}
