"""`simulate validate`: the simulator against the real executor, per metric,
at 50/85/95% of the executor's measured capacity.

    simulate validate --trace sharegpt --num-prompts 64 --policy deepest-first,no-skip
    simulate validate --quick     # a few prompts, the three loads, the replay mode

Prints the error table and writes validation.json and validation.html to
--out. Executor runs are cached under --cache (by their resolved flags), so a
second validate reuses them. Import-light: everything heavy is imported in `run`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from reports.validation.config import (
    LOADS,
    MODES,
    QUICK_LOADS,
    QUICK_MAX_OUTPUT_TOKENS,
    QUICK_MODES,
    QUICK_NUM_PROMPTS,
    QUICK_SKIP_CONFIG,
    ValidateConfig,
)
from skipsim.errors import UserError

D = ValidateConfig


def add_arguments(parser) -> None:
    parser.add_argument("--trace", default=D.trace, metavar="NAME|PATH",
                        help=f"the workload (default: {D.trace})")
    parser.add_argument("--num-prompts", type=int, default=None,
                        help=f"requests (default: {D.num_prompts}; --quick {QUICK_NUM_PROMPTS})")
    parser.add_argument("--seed", type=int, default=D.seed, help="seed of every random stream")
    parser.add_argument("--model", default=D.model, help=f"(default: {D.model})")
    parser.add_argument("--policy", default=",".join(D.policies),
                        help=f"comma list of schedulers (default: {','.join(D.policies)})")
    parser.add_argument("--loads", default=None,
                        help="comma list of fractions of capacity (default: "
                             f"{','.join(f'{x:g}' for x in LOADS)}; --quick "
                             f"{','.join(f'{x:g}' for x in QUICK_LOADS)})")
    parser.add_argument("--modes", default=None,
                        help=f"comma list of skip modes, of {', '.join(MODES)} (default: all; "
                             f"--quick {','.join(QUICK_MODES)})")
    parser.add_argument("--skip-rates", default=D.skip_rates,
                        help=f"the random mode's hit rates, both sides (default: {D.skip_rates})")
    parser.add_argument("--max-output-tokens", type=int, default=None,
                        help=f"cut outputs to this length (default: none; --quick "
                             f"{QUICK_MAX_OUTPUT_TOKENS})")
    parser.add_argument("--repeats", type=int, default=D.repeats,
                        help="executor runs per load and policy, the noise floor "
                             f"(default: {D.repeats})")
    parser.add_argument("--threads", type=int, default=D.threads, help="torch threads")
    parser.add_argument("--skip-config", default=None, metavar="PROFILE.json",
                        help="the SkipProfile whose routers the executor runs live (default: "
                             f"the committed one; --quick {QUICK_SKIP_CONFIG})")
    parser.add_argument("--cost-model", default=None, metavar="NAME|PATH",
                        help="the cost model of the profile rows: the executor prices its "
                             "steps by it and the simulator runs on it (default: the "
                             "committed profile of this CPU, when one is committed; else the "
                             "executor's default)")
    parser.add_argument("--fit-on", default="ends", metavar="LOADS|ends|first|none",
                        help="refit the cost model on the first executor runs of these loads "
                             "(a comma list, e.g. 0.5,0.95: `simulate profile --from-steps`) "
                             "and score it only at the other loads, beside the profile's rows "
                             "(default: ends, the lightest and the heaviest load when there "
                             "are three or more, else the first)")
    parser.add_argument("--quick", action="store_true",
                        help="a few prompts, fewer loads and modes (< 15 min on a CPU)")
    parser.add_argument("--out", default="validation", help="output folder (default: validation)")
    parser.add_argument("--cache", default=None,
                        help="executor runs cache (default: ~/.cache/skipsim/validate)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _floats(text: str, flag: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise UserError(f"{flag} must be a comma list of numbers, got {text!r}") from None


def validate_config(args) -> ValidateConfig:
    q = args.quick
    loads = _floats(args.loads, "--loads") if args.loads else (QUICK_LOADS if q else LOADS)
    return ValidateConfig(
        trace=args.trace, seed=args.seed, model=args.model,
        num_prompts=args.num_prompts or (QUICK_NUM_PROMPTS if q else D.num_prompts),
        policies=tuple(p.strip() for p in args.policy.split(",") if p.strip()),
        loads=loads, fit_on=_fit_on(args.fit_on, loads),
        modes=tuple(m.strip() for m in args.modes.split(",")) if args.modes else
        (QUICK_MODES if q else MODES),
        skip_rates=args.skip_rates,
        max_output_tokens=args.max_output_tokens or (QUICK_MAX_OUTPUT_TOKENS if q else None),
        repeats=args.repeats, threads=args.threads,
        cost_model=args.cost_model or _this_cpus_profile(args.model, args.threads),
        skip_config=args.skip_config or (_quick_profile() if q else None))


def _fit_on(text: str, loads: tuple[float, ...]) -> tuple[float, ...]:
    """The loads to fit on. `ends`: a light and a heavy one (the batch slope
    measured, not extrapolated), leaving those between to score."""
    if text == "none" or (text in ("first", "ends") and len(loads) < 2):
        return ()
    if text == "ends" and len(loads) >= 3:
        return (min(loads), max(loads))
    if text in ("first", "ends"):
        return (loads[0],)
    return tuple(dict.fromkeys(_floats(text, "--fit-on")))


def _this_cpus_profile(model: str, threads: int) -> str | None:
    from profiler.committed import profile_of_this_cpu

    path = profile_of_this_cpu(model, threads)
    return None if path is None else str(path)


def _quick_profile() -> str:
    from simulator.skip_models.measured import PROFILES

    return str(PROFILES / QUICK_SKIP_CONFIG)


def run(args) -> int:
    from tqdm import tqdm

    from reports.validation.page import write_page
    from reports.validation.protocol import run_validation, total_weight
    from reports.validation.report import format_table, write_json
    from skipsim.paths import cache_dir

    cfg = validate_config(args)
    if cfg.cost_model and not args.cost_model:
        print(f"profile rows priced by {cfg.cost_model}, the committed profile of this CPU",
              file=sys.stderr)
    cache = Path(args.cache) if args.cache else cache_dir("validate")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # units are capacity runs of the executor (protocol.run_weight): the ETA follows time
    with tqdm(total=total_weight(cfg), desc="validate", file=sys.stderr,
              bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]",
              disable=True if args.no_progress else None) as bar:
        result = run_validation(cfg, cache, bar, log=lambda m: bar.write(m, file=sys.stderr))
    print(format_table(result))
    paths = [write_json(result, out / "validation.json"),
             write_page(result, out / "validation.html")]
    print(f"wrote {', '.join(str(p) for p in paths)}", file=sys.stderr)
    return 0
