"""`router` skip mode: the real routers and thresholds of a SkipProfile, on real states.

A SkipProfile stores, per checkpoint and target agreement, the calibrated
threshold of its router, but not the banks: those are the hidden states and
counterfactual labels of the calibration prompts, which live in the
calibration cache (`~/.cache/skipsim/calibration/`, shared with `simulate
calibrate`). They are rebuilt exactly as calibration built them (same
prompts, same recordings, same `fit_routers`), recorded first if the cache
is cold. A profile made for another model or another checkpoint plan is
refused: its banks and thresholds mean nothing there.

Each step's tokens standing at a checkpoint are looked up in one batched
faiss search (router.scores); with `--device cuda` the bank index moves to
the GPU when faiss has GPU support, else the states are copied to the host
and the copies are timed and labelled.

Routers that read context features (gbt, mlp: `Router.needs_context`) get
them from the executor's per-request `LiveContext` (the object the live
calibration keeps, `policies/routers/live_context.py`), from the inputs of
the two layers before the checkpoint; a token's decode step is its token
index + 1. Other routers (knn) compute none of it.

A profile whose skip action is `shortcut` gets its block shortcuts fitted on
the same recordings as calibration fits them; a skipping token's state is
replaced by its shortcut's image (timed with the decision), as the live
calibration replaces it.

A plan from `simulate plan` (`--plan`) keeps some of the profile's
checkpoints, each router at its own operating point: a calibrated target's
threshold, or a bank-size sweep point "bank:F", whose router is refitted on
the same random F of its bank with the threshold the sweep calibrated
(`pipeline._bank_sweep`'s draw). A landing at a checkpoint the plan dropped
resumes at the deepest plan checkpoint at or before it, and one that falls
inside the router's own block runs the block, as the simulator maps it
(`simulator/skip_models/measured.py::map_landing`).
"""

from __future__ import annotations

import time
from dataclasses import fields

import numpy as np

from executor.skip_modes import Decision, SkipMode, register_skip_mode
from skipsim.errors import UserError

NEVER = 1e9  # how a profile stores an infinite threshold (a checkpoint that never skips)


def check_model(profile, model_name: str, plan) -> None:
    from skipsim.model_loader import is_smollm2

    same_model = ((is_smollm2(profile.model) and is_smollm2(model_name))
                  or profile.model == model_name)
    if not same_model or profile.num_layers != plan.num_layers:
        raise UserError(f"the SkipProfile was made for model {profile.model!r} "
                        f"({profile.num_layers} layers), not {model_name!r} ({plan.num_layers})")


def check_plan(profile, model_name: str, plan, points: dict, path) -> None:
    """A `simulate plan` plan runs on its profile's routers: the same model, every
    router at a checkpoint and operating point the profile measured, and (for the
    delta and shortcut actions, whose targets are the profile's own checkpoints)
    no checkpoint dropped."""
    from simulator.skip_models.measured import operating_point

    check_model(profile, model_name, plan)
    by_layer = {cp.layer: cp for cp in profile.checkpoints}
    missing = [f"{layer}@{key}" for layer, key in sorted(points.items())
               if layer not in by_layer or operating_point(by_layer[layer], key) is None]
    if missing:
        raise UserError(f"the plan's routers {', '.join(missing)} are not in the skip "
                        f"profile {path}: re-plan with that profile")
    if profile.action != "identity" and tuple(plan.boundaries) != tuple(profile.boundaries):
        raise UserError(f"the profile's {profile.action} action lands at its own "
                        "checkpoints: the executor runs it on the profile's plan only")


def check_profile(profile, model_name: str, plan) -> None:
    check_model(profile, model_name, plan)
    if tuple(profile.boundaries) != tuple(plan.boundaries):
        sizes = ",".join(str(b - a) for a, b in zip(profile.boundaries, profile.boundaries[1:]))
        raise UserError(f"the SkipProfile was made for checkpoints {sizes}, not {plan}: "
                        f"pass --checkpoints {sizes} or another --skip-config")


def profile_target(profile, target) -> str:
    key = float(profile.target_agreement if target is None else target)
    match = [t for t in profile.targets() if float(t) == key]
    if not match:
        raise UserError(f"the skip profile has no thresholds for target {key:g} "
                        f"(it has {', '.join(profile.targets())})")
    return match[0]


def rebuild_routers(profile, lm, tokenizer, log=print,
                    fractions: dict | None = None) -> tuple[dict, dict]:
    """(checkpoint index -> the profile's router, fitted on its calibration banks;
    (checkpoint, landing) -> the block shortcut fitted on the same states, when
    the profile's action is `shortcut`, else empty). `fractions`: checkpoint index
    -> F, that router fitted on the bank-size sweep's random F of its bank."""
    from profiler.calibration.banks import build_examples, step_confidences, take_fraction
    from profiler.calibration.chunks import recorded_chunks
    from profiler.calibration.config import CalibrationConfig
    from profiler.calibration.fitting import fit_routers
    from profiler.calibration.pipeline import resolve_plan
    from profiler.calibration.prompts import split_prompts

    names = {f.name for f in fields(CalibrationConfig)}
    raw = {k: tuple(v) if isinstance(v, list) else v for k, v in profile.config.items()
           if k in names}
    cfg = CalibrationConfig(**raw)
    plan = resolve_plan(cfg.checkpoints, lm.num_layers)
    split = split_prompts(tokenizer, cfg.num_calibration_prompts, cfg.num_test_prompts,
                          cfg.max_prompt_tokens, cfg.seed)
    if split.calibration_ids != list(profile.config.get("calibration_prompt_rows", [])):
        raise UserError("the SkipProfile's calibration prompts are not the ShareGPT rows this "
                        "machine samples: its banks cannot be rebuilt here")
    # the banks are the calibration prompts alone: recorded and labelled as
    # calibration records them (the same chunk keys, so its cache is shared),
    # without the held-out prompts calibration also records (a third of the time)
    cal, labels, _ = recorded_chunks(lm, cfg.model, split.calibration, plan, cfg.max_new_tokens,
                                     cfg.max_skip_blocks, kv_prompts=cfg.live_calibration_prompts,
                                     desc="record+label calibration", log=log)
    examples = build_examples(plan, cal, labels, step_confidences(lm, cal))
    routers = fit_routers(profile.router, examples)
    for i, f in (fractions or {}).items():  # the draw `pipeline._bank_sweep` makes
        part = take_fraction(examples[i], f, np.random.default_rng(cfg.seed + 1))
        routers[i] = fit_routers(profile.router, {i: part})[i]
    if profile.action != "shortcut":
        return routers, {}
    from profiler.calibration.shortcuts import fit_shortcuts
    return routers, fit_shortcuts(plan, cal, cfg.max_skip_blocks)  # as calibration fits them


@register_skip_mode("router")
class RouterSkipMode(SkipMode):
    does_lookups = True

    def __init__(self, routers: dict, thresholds: dict, error_prob: dict, action: str,
                 device: str, label: str, shortcuts: dict | None = None,
                 landing_maps: dict | None = None):
        self.routers, self.thresholds, self.error_prob = routers, thresholds, error_prob
        # checkpoint -> the plan's index of each of its router's (profile) landings
        self.landing_maps = landing_maps or {}
        self.action, self.shortcuts = action, shortcuts or {}
        if action == "shortcut" and not self.shortcuts:
            raise UserError("the shortcut skip action needs its fitted block shortcuts")
        self.bank_entries = max((len(r.bank) for r in routers.values() if hasattr(r, "bank")),
                                default=0)  # what the cost model prices a lookup at
        self.needs_context = any(r.needs_context for r in routers.values())
        self.needs_prev_state = self.needs_context or any(r.name == "probe"
                                                          for r in routers.values())
        self.needs_exit_entropy = any(r.needs_exit_entropy for r in routers.values())
        self.host_copies = device != "cpu" and not _move_banks_to_gpu(routers)
        where = ("on the host (host copies timed)" if self.host_copies
                 else "faiss GPU" if device != "cpu" else "faiss CPU")
        self.label = f"{label}, lookups {where}"

    @classmethod
    def build(cls, plan, options, context):
        """The profile's routers on its own plan at one target, or (with
        `skip_targets_by_layer`, from a `simulate plan` plan) at the plan's
        checkpoints, each at its own operating point."""
        from policies.checkpoint_plan import CheckpointPlan
        from profiler.calibration.skip_profile import SkipProfile
        from simulator.skip_models.measured import DEFAULT_PROFILE, map_landing, operating_point

        path = options.get("skip_config") or DEFAULT_PROFILE
        name = getattr(path, "name", path)
        profile = SkipProfile.load(path)
        points = options.get("skip_targets_by_layer")
        if points is None:
            check_profile(profile, context["model"], plan)
            target = profile_target(profile, options.get("skip_target"))
            points = {cp.layer: target for cp in profile.checkpoints}
            label = f"router: {profile.router} @ {float(target):g} from {name}"
        else:
            check_plan(profile, context["model"], plan, points, path)
            label = f"router: {profile.router} on plan {plan} from {name}"
        by_layer = {cp.layer: cp for cp in profile.checkpoints}
        fractions = {by_layer[layer].index: float(key[5:]) for layer, key in points.items()
                     if key.startswith("bank:")}
        routers_p, shortcuts = rebuild_routers(profile, context["cpu_layerwise"](),
                                               context["tokenizer"], context["log"], fractions)
        full = CheckpointPlan(tuple(profile.boundaries))
        routers, thresholds, error_prob, maps = {}, {}, {}, {}
        for q in plan.router_checkpoints:
            cp = by_layer[plan.boundaries[q]]
            if tuple(cp.landings) != routers_p[cp.index].landings:
                raise UserError(f"the SkipProfile's landings at checkpoint {cp.index} differ "
                                "from its rebuilt bank's: the calibration cache is stale")
            st = operating_point(cp, points[cp.layer])
            routers[q] = routers_p[cp.index]
            thresholds[q] = float("inf") if st.threshold >= NEVER else st.threshold
            error_prob[q] = st.error_prob
            maps[q] = np.array([map_landing(plan, q, full.boundaries[j], plan.num_layers)
                                for j in routers[q].landings], np.int64)
        return cls(routers, thresholds, error_prob, profile.action, context["device"], label,
                   shortcuts, maps)

    def decide(self, at, h, prev, logits, request_ids, token_indices, prev2=None, context=None):
        import torch

        from policies.routers.base import Query, decide
        from policies.routers.features import step_confidence

        router = self.routers[at]
        t0 = time.perf_counter()
        keys = h.detach().float().cpu().numpy()
        cos = (torch.nn.functional.cosine_similarity(prev.float(), h.float(), dim=-1).cpu().numpy()
               if prev is not None else np.zeros(len(keys)))
        ent, margin = np.zeros(len(keys)), None
        if router.needs_exit_entropy:
            conf = step_confidence(torch.log_softmax(logits(h).float(), -1)).cpu().numpy()
            ent, margin = conf[:, 2], conf[:, 1].astype(np.float64)
        if router.needs_context:
            if context is None or prev is None or prev2 is None:
                raise ValueError(f"the {router.name} router needs the requests' context "
                                 "(their two previous states and LiveContext)")
            h1, h2 = (x.detach().float().cpu().numpy() for x in (prev, prev2))
        t1 = time.perf_counter()
        features = (context.features(at, request_ids, np.asarray(token_indices) + 1, keys, h1,
                                     h2, cos) if router.needs_context else None)
        query = Query(keys, cos, ent, features, margin)
        idx = decide(router.scores(query), self.thresholds.get(at, float("inf")))
        landings = self.landing_maps.get(at)
        if landings is None:
            landings = np.asarray(router.landings, np.int64)
        landing = np.where(idx >= 0, landings[np.maximum(idx, 0)], at).astype(np.int64)
        delta = None
        if self.action == "delta" and (idx >= 0).any():
            delta = router.deltas(query, idx).astype(np.float32)
        state = self._shortcut_states(at, keys, idx, landing)
        t2 = time.perf_counter()
        p = np.where(landing != at, self.error_prob.get(at, 0.0), 0.0)
        copy_s = t1 - t0 if self.host_copies else 0.0
        return Decision(landing, p, delta, t2 - t1 + (t1 - t0 - copy_s), copy_s, state)

    def _shortcut_states(self, at: int, keys: np.ndarray, idx: np.ndarray,
                         landing: np.ndarray) -> np.ndarray | None:
        """The carried states a learned shortcut replaces (as the live calibration
        does, `live_eval._apply_shortcuts`): each hit's departure state mapped to
        its landing's (an exit: to h_L); a pair without a fitted map carries it."""
        if self.action != "shortcut" or not (idx >= 0).any():
            return None
        state = keys.copy()
        for land in np.unique(landing[idx >= 0]):
            sc = self.shortcuts.get((at, int(land)))
            rows = (idx >= 0) & (landing == land)
            if sc is not None:
                state[rows] = sc.apply(keys[rows])
        return state


def _move_banks_to_gpu(routers: dict) -> bool:
    """Put every faiss bank on the GPU if this faiss build can; True when done."""
    import faiss

    if not hasattr(faiss, "StandardGpuResources") or faiss.get_num_gpus() < 1:
        return False
    res = faiss.StandardGpuResources()
    for r in routers.values():
        bank = getattr(r, "bank", None)
        if bank is not None:
            bank.index = faiss.index_cpu_to_gpu(res, 0, bank.index)
    return True
