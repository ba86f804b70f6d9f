"""`simulate calibrate`: measure skip behaviour on the real model, write a SkipProfile;
`simulate calibrate --show FILE` prints one."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

from policies.routers import ROUTERS
from profiler.calibration.config import (
    ACTIONS,
    KV_POLICIES,
    QUICK,
    THRESHOLD_CALIBRATIONS,
    CalibrationConfig,
)
from skipsim.errors import UserError
from skipsim.outputs import check_writable_file


def add_arguments(parser) -> None:
    """Run options default to None so that an explicit flag beats the --quick preset."""
    d = CalibrationConfig()
    opt = lambda flag, help, **kw: parser.add_argument(flag, default=None, help=help, **kw)  # noqa: E731
    parser.add_argument("--show", metavar="FILE", help="print a SkipProfile's table and exit")
    opt("--model", f"model name or folder (default: {d.model})")
    parser.add_argument("--trace", default="sharegpt", choices=["sharegpt"],
                        help="prompt source (ShareGPT first turns)")
    opt("--checkpoints", f"block sizes or boundaries (default: {d.checkpoints})")
    opt("--router", f"router written to the profile (default: {d.router})", choices=sorted(ROUTERS))
    opt("--compare-routers", f"routers also evaluated live (default: {_csv(d.compare_routers)})")
    opt("--target-agreement", "agreement the thresholds are calibrated to, in (0, 1] "
        f"(default: {d.target_agreement})", type=float)
    opt("--targets", f"further targets swept (default: {_csv(d.targets)})")
    opt("--kv-policy", f"KV-hole policy of the live runs (default: {d.kv_policy})",
        choices=KV_POLICIES)
    opt("--compare-kv-policies", "KV-hole policies also evaluated at the target "
        f"(default: {_csv(d.compare_kv_policies)})")
    opt("--action", "carry the state unchanged, add the neighbours' delta, or map it by the "
        f"learned block shortcut (default: {d.action})", choices=ACTIONS)
    opt("--offline-routers", "routers also compared on the held-out labels only (offline walk, "
        f"no live decoding) (default: {_csv(d.offline_routers)})")
    opt("--compare-actions", "skip actions the profile router's frontier ladder also runs "
        "(default: none; e.g. identity,shortcut)")
    opt("--ladder-fractions", "skipped fractions each router's live frontier points aim at "
        f"(default: {_csv(d.ladder_fractions)})")
    opt("--learning-curve", "fractions of the calibration prompts the learning curve refits on "
        f"(default: {_csv(d.learning_curve_fractions)})")
    opt("--threshold-calibration", "calibrate the profile router's thresholds on live decoding "
        "of the calibration prompts (cross-fitted) or on the offline labels only "
        f"(default: {d.threshold_calibration})", choices=THRESHOLD_CALIBRATIONS)
    opt("--bank-fractions", "bank sizes swept, as fractions of the calibration bank "
        f"(default: {_csv(d.bank_fractions)})")
    opt("--static-layers", "layer counts of the static Block Influence baseline "
        f"(default: {_csv(d.static_layer_counts)})")
    opt("--calibration-prompts", f"(default: {d.num_calibration_prompts})", type=int)
    opt("--test-prompts", f"held-out prompts (default: {d.num_test_prompts})", type=int)
    opt("--max-prompt-tokens", f"(default: {d.max_prompt_tokens})", type=int)
    opt("--max-new-tokens", f"(default: {d.max_new_tokens})", type=int)
    opt("--max-skip-blocks", f"furthest landing tested, in blocks (default: {d.max_skip_blocks})",
        type=int)
    opt("--live-calibration-prompts", "calibration prompts decoded by the live threshold "
        f"calibration (default: {d.live_calibration_prompts})", type=int)
    parser.add_argument("--record-only", action="store_true", default=None,
                        help="record and label the prompts into the cache, then stop")
    parser.add_argument("--no-live-oracle", dest="live_oracle", action="store_false", default=None,
                        help="skip the live hindsight oracle (the offline one is always computed)")
    opt("--held-out-from", "position of the held-out prompts in the shuffled prompt list "
        "(default: right after the calibration prompts); fixed, it keeps the held-out set "
        "while the calibration set grows", type=int)
    opt("--seed", f"(default: {d.seed})", type=int)
    parser.add_argument("--quick", action="store_true",
                        help="the quick preset: "
                             + ", ".join(f"{k}={_csv(v)}" for k, v in QUICK.items())
                             + " (7 minutes on one CPU core, cold cache); "
                               "explicit flags still apply")
    parser.add_argument("--out", default="skip-profile.json", metavar="FILE",
                        help="where to write the SkipProfile (default: skip-profile.json)")


def _csv(v) -> str:
    return ",".join(str(x) for x in v) if isinstance(v, tuple) else str(v)


def _floats(text: str, flag: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise UserError(f"{flag} {text!r}: expected comma-separated numbers") from None


def _ints(text: str, flag: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise UserError(f"{flag} {text!r}: expected comma-separated whole numbers") from None


def _names(text: str, known, flag: str) -> tuple[str, ...]:
    names = tuple(x.strip() for x in text.split(",") if x.strip())
    unknown = [x for x in names if x not in known]
    if unknown:
        raise UserError(f"{flag}: unknown name {unknown[0]!r} "
                        f"(choose from {', '.join(sorted(known))})")
    return names


# flag attribute -> (config field, parser of the flag's text or None for typed flags)
_FIELDS = {
    "model": ("model", None), "checkpoints": ("checkpoints", None), "router": ("router", None),
    "compare_routers": ("compare_routers", lambda t: _names(t, ROUTERS, "--compare-routers")),
    "target_agreement": ("target_agreement", None),
    "targets": ("targets", lambda t: _floats(t, "--targets")),
    "kv_policy": ("kv_policy", None),
    "compare_kv_policies": ("compare_kv_policies",
                            lambda t: _names(t, KV_POLICIES, "--compare-kv-policies")),
    "action": ("action", None), "threshold_calibration": ("threshold_calibration", None),
    "offline_routers": ("offline_routers", lambda t: _names(t, ROUTERS, "--offline-routers")),
    "compare_actions": ("compare_actions", lambda t: _names(t, ACTIONS, "--compare-actions")),
    "learning_curve": ("learning_curve_fractions", lambda t: _floats(t, "--learning-curve")),
    "ladder_fractions": ("ladder_fractions", lambda t: _floats(t, "--ladder-fractions")),
    "bank_fractions": ("bank_fractions", lambda t: _floats(t, "--bank-fractions")),
    "static_layers": ("static_layer_counts", lambda t: _ints(t, "--static-layers")),
    "calibration_prompts": ("num_calibration_prompts", None),
    "test_prompts": ("num_test_prompts", None), "max_prompt_tokens": ("max_prompt_tokens", None),
    "max_new_tokens": ("max_new_tokens", None), "max_skip_blocks": ("max_skip_blocks", None),
    "live_calibration_prompts": ("live_calibration_prompts", None),
    "record_only": ("record_only", None), "held_out_from": ("held_out_from", None),
    "live_oracle": ("live_oracle", None),
    "seed": ("seed", None),
}


def config_from_args(args) -> CalibrationConfig:
    """The defaults (or the quick preset), then every flag given explicitly."""
    base = {**asdict(CalibrationConfig()), **(QUICK if args.quick else {})}
    for attr, (field, parse) in _FIELDS.items():
        value = getattr(args, attr)
        if value is not None:
            base[field] = parse(value) if parse else value
    return CalibrationConfig(**base)


def check_plan(cfg: CalibrationConfig) -> None:
    """Fail fast, before loading the model, on checkpoints outside its layers."""
    from profiler.calibration.pipeline import resolve_plan
    from skipsim.model_spec import model_spec

    num_layers = model_spec(cfg.model).num_layers
    resolve_plan(cfg.checkpoints, num_layers)
    too_many = [n for n in cfg.static_layer_counts if n >= num_layers]
    if too_many:
        raise UserError(f"--static-layers {too_many[0]}: the model has {num_layers} layers "
                        f"(layer 0 is never skipped)")


def run(args) -> int:
    if args.show:
        from profiler.calibration.show import format_profile
        from profiler.calibration.skip_profile import SkipProfile

        print(format_profile(SkipProfile.load(args.show)))
        return 0
    cfg = config_from_args(args)
    check_writable_file(args.out, "--out")  # before the model is loaded
    check_plan(cfg)
    from profiler.calibration.pipeline import run_calibration
    from profiler.calibration.show import format_profile

    profile = run_calibration(cfg, Path(args.out), log=lambda m: print(m, file=sys.stderr))
    if profile is None:
        print("recordings and labels are in the cache (--record-only)")
        return 0
    print(f"wrote {args.out} ({profile.config['wall_time_s']} s)")
    print(format_profile(profile))
    return 0
