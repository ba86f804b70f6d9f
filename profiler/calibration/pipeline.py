"""The calibration run, end to end: record, label, fit, evaluate live, write the SkipProfile.

Figures in the profile come from the held-out test prompts only: hit
probability and landing distribution per checkpoint from the live run (the
states routers really see once earlier skips have happened), error
probability given a hit from the counterfactual labels of the test tokens
(a per-checkpoint figure the live run cannot attribute), agreement, KL and
skipped fraction from the live run.

Every router's thresholds are calibrated offline (cross-conformal on the
counterfactual labels); the profile's router is also calibrated on live
decoding of the calibration prompts (`live_calibration.py`, the default),
and those thresholds are the profile's. Both appear in the comparison.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from policies.checkpoint_plan import CheckpointPlan
from policies.routers.base import SkipExamples, decide
from profiler.calibration.banks import build_examples, step_confidences, take_fraction
from profiler.calibration.config import CalibrationConfig
from profiler.calibration.decoder import LayerwiseModel
from profiler.calibration.fitting import (
    calibration_curves,
    fit_routers,
    query_of,
    thresholds_by_target,
)
from profiler.calibration.live_calibration import live_level_runs, pick_thresholds
from profiler.calibration.live_eval import LiveResult, LiveSetup, evaluate_live
from profiler.calibration.prompts import split_prompts
from profiler.calibration.shortcuts import fit_shortcuts
from profiler.calibration.skip_profile import CheckpointProfile, CheckpointStats, SkipProfile
from profiler.calibration.static_baseline import block_influence, lowest_influence_layers
from profiler.calibration.study import (
    learning_curve,
    offline_frontiers,
    offline_oracle,
    run_gaps,
    run_ladders,
    run_oracle,
    shortcut_quality,
)
from skipsim.errors import UserError


def resolve_plan(checkpoints: str, num_layers: int) -> CheckpointPlan:
    plan = CheckpointPlan.parse(checkpoints, num_layers)
    if plan.num_blocks < 2:
        raise UserError(f"--checkpoints {checkpoints!r} has no inner checkpoint to route at")
    return plan


def run_calibration(cfg: CalibrationConfig, out: Path, log=print) -> SkipProfile | None:
    """The SkipProfile written to `out` (None with `record_only`)."""
    import torch

    from skipsim.model_loader import load_model

    started = time.time()
    model, tokenizer = load_model(cfg.model)
    lm = LayerwiseModel(model)
    plan = resolve_plan(cfg.checkpoints, lm.num_layers)
    split = split_prompts(tokenizer, cfg.num_calibration_prompts, cfg.num_test_prompts,
                          cfg.max_prompt_tokens, cfg.seed, cfg.held_out_from)
    inner = plan.router_checkpoints
    cal, test, labels, compute_s = _recorded(cfg, lm, plan, split, log)
    if cfg.record_only:
        return None
    ex_cal = build_examples(plan, cal, labels[:len(cal)], step_confidences(lm, cal))
    ex_test = build_examples(plan, test, labels[len(cal):], step_confidences(lm, test))
    n_cal = sum(r.num_decode for r in cal)
    n_test = sum(r.num_decode for r in test)
    log(f"{n_cal} calibration and {n_test} test decode tokens "
        f"({sum(r.prompt_len for r in cal + test)} prefill tokens flagged), "
        f"{time.time() - started:.0f} s so far")

    targets = list(cfg.all_targets)
    shortcuts = (fit_shortcuts(plan, cal, cfg.max_skip_blocks)
                 if "shortcut" in (cfg.action, *cfg.compare_actions) else {})
    comparison, main, level_runs, fitted, offline = _evaluate_routers(
        cfg, lm, plan, cal, test, ex_cal, n_cal, split.test_ids, targets, shortcuts)
    log(f"live evaluation done, {time.time() - started:.0f} s so far")
    main_t = cfg.target_agreement
    for policy in cfg.compare_kv_policies:
        if policy != cfg.kv_policy:
            res = evaluate_live(lm, test, LiveSetup(plan, main["routers"],
                                                    main["thresholds"][main_t],
                                                    kv_policy=policy, action=cfg.action,
                                                    shortcuts=shortcuts))
            comparison.append(_summary(res, router=cfg.router, target=main_t, kv_policy=policy,
                                       calibration=cfg.threshold_calibration))
    bi = block_influence(cal)
    static = []
    for n in tqdm(cfg.static_layer_counts, desc="static baseline", leave=False):
        layers = lowest_influence_layers(bi, n)
        res = evaluate_live(lm, test, LiveSetup(plan, static_skip_layers=layers,
                                                kv_policy=cfg.kv_policy))
        static.append({**_summary(res, router="static-BI", target=None, kv_policy=cfg.kv_policy,
                                  calibration=None),
                       "layers": sorted(layers)})
    log(f"static baseline done, {time.time() - started:.0f} s so far")
    study = {"oracle_offline": offline_oracle(plan, ex_test)}
    if shortcuts:
        study["shortcut_quality"] = shortcut_quality(shortcuts, plan, test)
    if cfg.live_oracle:
        study["oracle"] = run_oracle(cfg, lm, plan, test, split.test_ids, shortcuts)
        log(f"oracle: agreement {study['oracle']['agreement']:.4f} at "
            f"{study['oracle']['skipped_fraction']:.3f} skipped")
    study["ladders"] = run_ladders(cfg, lm, plan, test, ex_test, fitted, split.test_ids, shortcuts)
    study["offline"] = offline_frontiers(cfg, plan, ex_cal, ex_test, fitted)
    study["gap"] = run_gaps(plan, ex_test, fitted, {n: ths[main_t] for n, ths in offline.items()})
    study["learning_curve"] = learning_curve(cfg, plan, ex_cal, ex_test, cfg.router)
    log(f"study done, {time.time() - started:.0f} s so far")

    checkpoints = []
    for i in inner:
        by_target = {str(t): _stats(main["routers"][i], ex_test[i], main["thresholds"][t][i],
                                    main["live"][t], plan) for t in targets}
        by_bank = _bank_sweep(cfg, ex_cal[i], ex_test[i], main_t)
        landing_layers = [plan.boundaries[j] if j < plan.num_blocks else plan.num_layers
                          for j in ex_cal[i].landings]
        checkpoints.append(CheckpointProfile(i, plan.boundaries[i], list(ex_cal[i].landings),
                                             landing_layers, by_target, by_bank))
    out = Path(out)
    traces_name = out.name.removesuffix(".json") + ".traces.csv"
    profile = SkipProfile(
        model=cfg.model, num_layers=plan.num_layers, boundaries=list(plan.boundaries),
        router=cfg.router, kv_policy=cfg.kv_policy, action=cfg.action,
        target_agreement=main_t, checkpoints=checkpoints,
        live={"comparison": comparison, "block_influence": [round(float(x), 5) for x in bi],
              "study": study,
              "live_calibration": level_runs},
        static_baseline=static,
        config={**cfg.to_dict(), "calibration_tokens": n_cal, "test_tokens": n_test,
                "record_and_label_s": round(compute_s, 1),
                # float sums differ by thread count, and borderline labels with them
                "torch_threads": torch.get_num_threads(),
                "calibration_prompt_rows": split.calibration_ids,
                "test_prompt_rows": split.test_ids, "wall_time_s": None},
        traces_file=traces_name)
    _write_traces(out.parent / traces_name, main["live"][main_t], profile, str(main_t))
    profile.config["wall_time_s"] = round(time.time() - started, 1)
    profile.save(out)
    return profile


def _evaluate_routers(cfg, lm, plan, cal, test, ex_cal, n_cal, test_ids, targets, shortcuts):
    """Every router at every target, live on the test prompts, its thresholds
    calibrated offline (cross-conformal on the labels); the profile's router
    also calibrated live when `threshold_calibration == "live"`. Returns the
    comparison rows, the profile router's (routers, thresholds, live results)
    and the live calibration's level runs."""
    names = [cfg.router] + [r for r in cfg.compare_routers if r != cfg.router]
    live_cal = cfg.threshold_calibration == "live"
    bar = tqdm(total=(len(names) + live_cal) * len(targets), desc="live evaluation", leave=False)
    comparison, main, level_runs, fitted, offline = [], None, [], {}, {}
    for name in names:
        curves = calibration_curves(name, ex_cal, cfg.folds, cfg.seed)
        routers = fit_routers(name, ex_cal)
        fitted[name] = (curves, routers)
        variants = {"offline": thresholds_by_target(curves, n_cal, targets)}
        offline[name] = variants["offline"]
        if name == cfg.router and live_cal:
            runs = live_level_runs(lm, cal, ex_cal, name, curves, plan, cfg.folds, cfg.seed,
                                   min(targets), cfg.kv_policy, cfg.action,
                                   live_prompts=cfg.live_calibration_prompts,
                                   shortcuts=shortcuts)
            variants["live"] = {t: pick_thresholds(runs, t)[0] for t in targets}
            level_runs = [{k: v for k, v in asdict(r).items() if k != "thresholds"} for r in runs]
        for calib, ths in variants.items():
            for t in targets:
                res = evaluate_live(lm, test, LiveSetup(plan, routers, ths[t],
                                                        kv_policy=cfg.kv_policy,
                                                        action=cfg.action, shortcuts=shortcuts),
                                    test_ids)
                comparison.append(_summary(res, router=name, target=t, kv_policy=cfg.kv_policy,
                                           calibration=calib))
                bar.update()
                if name == cfg.router and calib == cfg.threshold_calibration:
                    main = main or {"routers": routers, "thresholds": ths, "live": {}}
                    main["live"][t] = res
    bar.close()
    return comparison, main, level_runs, fitted, offline


def _recorded(cfg: CalibrationConfig, lm, plan, split, log):
    """Recordings and labels, cached chunk by chunk (`chunks.py`): a second run
    with another router, KV policy or action, or with more prompts, reuses them.
    Calibration prompts past the live-calibration subset are kept compact."""
    from profiler.calibration.chunks import recorded_chunks

    test, test_labels, t_test = recorded_chunks(lm, cfg.model, split.test, plan,
                                                cfg.max_new_tokens, cfg.max_skip_blocks,
                                                kv_prompts=len(split.test), keep_logprobs=True,
                                                desc="record+label test", log=log,
                                                keep=not cfg.record_only)
    cal, cal_labels, t_cal = recorded_chunks(lm, cfg.model, split.calibration, plan,
                                             cfg.max_new_tokens, cfg.max_skip_blocks,
                                             kv_prompts=cfg.live_calibration_prompts,
                                             desc="record+label calibration", log=log,
                                             keep=not cfg.record_only)
    return cal, test, cal_labels + test_labels, t_cal + t_test


def _summary(res: LiveResult, **keys) -> dict:
    return {**keys, "agreement": round(res.agreement, 5),
            "skipped_fraction": round(res.skipped_fraction, 5),
            "kl_nats": round(float(res.kl.mean()), 5), "tokens": int(len(res.agree))}


def _stats(router, ex: SkipExamples, threshold: float, live: LiveResult,
           plan: CheckpointPlan) -> CheckpointStats:
    idx = decide(router.scores(query_of(ex)), threshold)
    hit = idx >= 0
    wrong = hit & ~ex.safe[np.arange(len(idx)), np.maximum(idx, 0)]
    rows = [r for r in live.trace if r[2] == router.at]
    hits = [r[3] for r in rows if r[3] != router.at]
    probs = [hits.count(j) / len(hits) if hits else 0.0 for j in router.landings]
    return CheckpointStats(
        hit_prob=round(len(hits) / len(rows), 5) if rows else 0.0,
        error_prob=round(float(wrong.sum() / hit.sum()), 5) if hit.any() else 0.0,
        landing_probs=[round(p, 5) for p in probs],
        threshold=float(threshold) if np.isfinite(threshold) else 1e9,
        tokens=len(rows))


def _bank_sweep(cfg, ex_cal_i: SkipExamples, ex_test_i: SkipExamples, target: float) -> dict:
    """Offline figures at one checkpoint (test labels, not live) with a random
    fraction of the bank; the threshold is recalibrated on that fraction alone."""
    out, i = {}, ex_cal_i.at
    for f in cfg.bank_fractions:
        part = take_fraction(ex_cal_i, f, np.random.default_rng(cfg.seed + 1))
        curves = calibration_curves(cfg.router, {i: part}, cfg.folds, cfg.seed)
        tau = thresholds_by_target(curves, len(part), [target])[target][i]
        router = fit_routers(cfg.router, {i: part})[i]
        idx = decide(router.scores(query_of(ex_test_i)), tau)
        hit = idx >= 0
        wrong = hit & ~ex_test_i.safe[np.arange(len(idx)), np.maximum(idx, 0)]
        land = [int((idx == j).sum()) for j in range(len(router.landings))]
        out[str(f)] = CheckpointStats(
            hit_prob=round(float(hit.mean()), 5),
            error_prob=round(float(wrong.sum() / hit.sum()), 5) if hit.any() else 0.0,
            landing_probs=[round(x / max(1, hit.sum()), 5) for x in land],
            threshold=float(tau) if np.isfinite(tau) else 1e9, tokens=len(idx))
    return out


def _write_traces(path: Path, live: LiveResult, profile: SkipProfile, target: str) -> None:
    err = {c.index: c.by_target[target].error_prob for c in profile.checkpoints}
    df = pd.DataFrame(live.trace, columns=["request_id", "token_index", "at", "landing"])
    df["p_change"] = [err[a] if land != a else 0.0 for a, land in zip(df["at"], df["landing"])]
    df.to_csv(path, index=False)
