"""`simulate execute`: serve a trace for real on the model, with the simulator's policies.

    simulate execute --trace sharegpt --num-prompts 32 --request-rate 0.05
    simulate execute --trace sharegpt --num-prompts 32 --policy no-skip --device cuda

Takes the trace and served-system flags of `simulate run` (the same parser
helpers), plus what only a real run has: the skip mode, the torch device,
threads and dtype, and free-running accuracy. Prints the summary table of
`simulate run`, labelled as a real run, and writes to --out the records in
the simulator's schema (measured agreement in `expected_agreement`),
summary.json, config.json, steps.parquet, decisions.csv (replayable with
`--skip-model replay`) and tokens.jsonl.
"""

from __future__ import annotations

from executor.config import DTYPES, ExecConfig
from simulator.cli import add_output_arguments, add_served_system_arguments, parse_goodput
from simulator.config import SimConfig
from skipsim.errors import UserError
from traces.cli import add_trace_arguments

SKIP_MODE_NAMES = ("router", "random", "no-skip")  # executor.skip_modes.SKIP_MODES (import-light)


def add_arguments(parser) -> None:
    add_trace_arguments(parser)
    add_served_system_arguments(parser)
    parser.set_defaults(checkpoints=None)
    for action in parser._actions:
        if action.dest == "checkpoints":
            action.help = ("block sizes or boundaries (default: the SkipProfile's plan with "
                           f"--skip-mode router, else {SimConfig.checkpoints})")
    g = parser.add_argument_group("device")
    g.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    g.add_argument("--threads", type=int, default=1,
                   help="torch threads on the CPU (default: 1, as the committed CPU profile)")
    g.add_argument("--dtype", default="float32", help=f"{', '.join(DTYPES)} (default: float32)")
    g.add_argument("--cost-model", default=SimConfig.cost_model, metavar="NAME|PATH",
                   help="prices each step in steps.parquet (default: auto)")
    g.add_argument("--gpu-memory", type=float, default=None, metavar="GIB",
                   help="memory for the memory split in GiB (default: the device's)")
    g.add_argument("--bank-fraction", type=float, default=SimConfig.bank_fraction,
                   help=f"share of memory for the banks (default: {SimConfig.bank_fraction})")
    g = parser.add_argument_group("skipping and accuracy")
    g.add_argument("--skip-mode", default=None, choices=SKIP_MODE_NAMES,
                   help="router: the real routers of a SkipProfile; random: the parametric "
                        "skip model's draws; no-skip (default: router; random when "
                        "--skip-rates or --exit-prob is given)")
    g.add_argument("--skip-config", default=None, metavar="PROFILE.json",
                   help="router: the SkipProfile (default: the committed SmolLM2 profile)")
    g.add_argument("--skip-target", type=float, default=None, metavar="AGREEMENT",
                   help="router: the profile's thresholds for this target (default: its own)")
    g.add_argument("--skip-rates", default=None,
                   help="random: hit rate per inner checkpoint (comma list or one value)")
    g.add_argument("--exit-prob", type=float, default=None, help="random: P(a hit exits)")
    parser.set_defaults(skip_targets_by_layer=None)  # a --plan's per-router operating points
    g.add_argument("--plan", default=None, metavar="PLAN.json",
                   help="a plan from `simulate plan`: its checkpoints, and its routers each at "
                        "its operating point with its bank (replaces --checkpoints, "
                        "--skip-config and --skip-target; no routers: no skipping)")
    g.add_argument("--free-running", action="store_true",
                   help="feed the server's own tokens (default: teacher-forced, each input "
                        "is the full model's token)")
    add_output_arguments(parser)


def exec_config(args) -> ExecConfig:
    if args.records_format not in ("csv", "parquet"):
        raise UserError(f"--records-format must be csv or parquet, got {args.records_format!r}")
    if args.timeline_window or args.timeline_sample:
        # the real run's timeline is written whole (a real run is short)
        raise UserError("--timeline-window and --timeline-sample apply to simulate run only")
    random_flags = [f for f, v in (("--skip-rates", args.skip_rates),
                                   ("--exit-prob", args.exit_prob)) if v is not None]
    if args.plan:
        _plan_into(args, random_flags)
    mode = args.skip_mode or ("random" if random_flags else "router")
    if random_flags and mode != "random":
        raise UserError(f"{', '.join(random_flags)} only apply to --skip-mode random")
    if mode != "router" and (args.skip_config or args.skip_target is not None):
        raise UserError("--skip-config and --skip-target only apply to --skip-mode router")
    skip_model = {"router": "measured", "random": "parametric", "no-skip": "no-skip"}[mode]
    sim = SimConfig(
        model=args.model, device="cpu", cost_model=args.cost_model,
        checkpoints=args.checkpoints or _default_checkpoints(mode, args.skip_config),
        policy=args.policy,
        skip_model=skip_model,
        skip_options={"hit_rates": args.skip_rates, "exit_prob": args.exit_prob,
                      "skip_config": args.skip_config, "skip_target": args.skip_target,
                      "skip_targets_by_layer": args.skip_targets_by_layer},
        kv_policy=args.kv_policy, lookup_placement=args.lookup_placement,
        gpu_memory_bytes=None if args.gpu_memory is None else int(args.gpu_memory * 2**30),
        bank_fraction=args.bank_fraction, max_num_seqs=args.max_num_seqs,
        max_batched_tokens=args.max_batched_tokens, chunked_prefill=args.chunked_prefill,
        prefill_chunk_tokens=args.prefill_chunk_tokens, num_gpus=args.num_gpus, seed=args.seed,
        **parse_goodput(args.goodput))
    return ExecConfig(sim, skip_mode=mode, torch_device=args.device, torch_threads=args.threads,
                      dtype=args.dtype, free_running=args.free_running)


def _plan_into(args, random_flags: list) -> None:
    """Set the checkpoints, skip mode, profile and per-router operating points of
    a plan file on `args`; flags the plan replaces are refused, not overridden."""
    from policies.placement.plan_file import load_plan
    from skipsim.model_spec import model_spec

    given = [f for f, v in (("--checkpoints", args.checkpoints),
                            ("--skip-config", args.skip_config),
                            ("--skip-target", args.skip_target)) if v is not None]
    if given or random_flags or args.skip_mode == "random":
        raise UserError(f"--plan brings its own checkpoints and routers: drop "
                        f"{', '.join(given + random_flags) or '--skip-mode random'}")
    choice = load_plan(args.plan, model_spec(args.model))
    if choice.num_gpus != 1:
        raise UserError(f"plan {args.plan} was made for {choice.num_gpus} GPUs: the executor "
                        "runs on one device")
    args.checkpoints = choice.checkpoints
    if not choice.routers or args.skip_mode == "no-skip":
        args.skip_mode = "no-skip"
        return
    args.skip_mode = "router"
    args.skip_config = choice.inputs.get("skip_profile")
    if not args.skip_config:
        raise UserError(f"plan {args.plan} does not name the skip profile it was planned from")
    args.skip_targets_by_layer = choice.operating_points


def _default_checkpoints(mode: str, profile_path: str | None) -> str:
    """The SkipProfile's plan for real routers (its banks exist only there)."""
    if mode != "router":
        return SimConfig.checkpoints
    from profiler.calibration.skip_profile import SkipProfile
    from simulator.skip_models.measured import DEFAULT_PROFILE

    b = SkipProfile.load(profile_path or DEFAULT_PROFILE).boundaries
    return ",".join(str(y - x) for x, y in zip(b, b[1:]))


def run(args) -> int:
    from executor.run import execute

    cfg = exec_config(args)
    return execute(args, cfg)
