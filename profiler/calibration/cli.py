"""`simulate calibrate`: measure skip behaviour on the real model, write a SkipProfile;
`simulate calibrate --show FILE` prints one."""

from __future__ import annotations

import sys
from pathlib import Path

from policies.routers import ROUTERS
from profiler.calibration.config import CalibrationConfig, quick
from profiler.calibration.live_eval import ACTIONS, KV_POLICIES
from profiler.calibration.show import format_profile
from profiler.calibration.skip_profile import SkipProfile
from skipsim.errors import UserError

NAME = "calibrate"
HELP = "measure semantic skipping on the real model (banks, routers, live accuracy) -> SkipProfile"


def add_arguments(parser) -> None:
    d = CalibrationConfig()
    parser.add_argument("--show", metavar="FILE", help="print a SkipProfile's table and exit")
    parser.add_argument("--model", default=d.model, help=f"model name or folder (default: {d.model})")
    parser.add_argument("--trace", default="sharegpt", choices=["sharegpt"],
                        help="prompt source (ShareGPT first turns)")
    parser.add_argument("--checkpoints", default=d.checkpoints,
                        help=f"block sizes or boundaries (default: {d.checkpoints})")
    parser.add_argument("--router", default=d.router, choices=sorted(ROUTERS),
                        help=f"router written to the profile (default: {d.router})")
    parser.add_argument("--compare-routers", default=",".join(d.compare_routers),
                        help="routers also evaluated live, comma-separated")
    parser.add_argument("--target-agreement", type=float, default=d.target_agreement,
                        help=f"agreement the thresholds are calibrated to, in (0, 1] "
                             f"(default: {d.target_agreement})")
    parser.add_argument("--targets", default=",".join(str(t) for t in d.targets),
                        help="further targets swept (comma-separated)")
    parser.add_argument("--kv-policy", default=d.kv_policy, choices=KV_POLICIES)
    parser.add_argument("--action", default=d.action, choices=ACTIONS,
                        help="carry the state unchanged or add the neighbours' delta")
    parser.add_argument("--calibration-prompts", type=int, default=d.num_calibration_prompts)
    parser.add_argument("--test-prompts", type=int, default=d.num_test_prompts)
    parser.add_argument("--max-new-tokens", type=int, default=d.max_new_tokens)
    parser.add_argument("--max-skip-blocks", type=int, default=d.max_skip_blocks)
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--quick", action="store_true",
                        help="the quick preset (16+8 prompts, 40 tokens): minutes on 2 CPU cores")
    parser.add_argument("--out", default="skip-profile.json", metavar="FILE",
                        help="where to write the SkipProfile (default: skip-profile.json)")


def _floats(text: str, flag: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise UserError(f"{flag} {text!r}: expected comma-separated numbers") from None


def config_from_args(args) -> CalibrationConfig:
    routers = tuple(r for r in args.compare_routers.split(",") if r)
    unknown = [r for r in routers if r not in ROUTERS]
    if unknown:
        raise UserError(f"unknown router {unknown[0]!r} (choose from {', '.join(sorted(ROUTERS))})")
    cfg = CalibrationConfig(
        model=args.model, checkpoints=args.checkpoints, router=args.router,
        compare_routers=routers, target_agreement=args.target_agreement,
        targets=_floats(args.targets, "--targets"), kv_policy=args.kv_policy,
        action=args.action, num_calibration_prompts=args.calibration_prompts,
        num_test_prompts=args.test_prompts, max_new_tokens=args.max_new_tokens,
        max_skip_blocks=args.max_skip_blocks, seed=args.seed)
    return quick(cfg) if args.quick else cfg


def check_plan(cfg: CalibrationConfig) -> None:
    """Fail fast, before loading the model, on checkpoints outside its layers."""
    from profiler.calibration.pipeline import resolve_plan
    from skipsim.model_spec import model_spec

    resolve_plan(cfg.checkpoints, model_spec(cfg.model).num_layers)


def run(args) -> int:
    if args.show:
        print(format_profile(SkipProfile.load(args.show)))
        return 0
    cfg = config_from_args(args)
    check_plan(cfg)
    from profiler.calibration.pipeline import run_calibration

    profile = run_calibration(cfg, Path(args.out), log=lambda m: print(m, file=sys.stderr))
    print(f"wrote {args.out} ({profile.config['wall_time_s']} s)")
    print(format_profile(profile))
    return 0
