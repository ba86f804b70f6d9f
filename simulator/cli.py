"""`simulate run` (the default subcommand): simulate serving a trace.

    simulate --trace sharegpt --scheduler deepest-first

Without --request-rate the rate is 80% of this configuration's simulated
capacity: a rate that short probes show the server sustains with a level
queue (see `default_rate.py`); the choice and its probes are printed. A
saved trace keeps its own arrival times (no probes; see `workload.py`).
Every run writes its records, JSON summary and resolved config to --out
(default out/<UTC timestamp>).
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

from policies.kv_hole import KV_HOLE_POLICIES
from policies.schedulers import SCHEDULERS
from profiler.cost_model import COST_MODELS
from profiler.devices import DEVICES
from simulator.config import RATE_FRACTION, SimConfig
from simulator.skip_models import SKIP_MODELS
from skipsim.errors import UserError
from skipsim.outputs import check_writable_dir, check_writable_file
from traces.cli import add_trace_arguments, trace_config

GOODPUT_KEYS = {"ttft": "slo_ttft_s", "tpot": "slo_tpot_s", "e2el": "slo_e2el_s"}


def add_arguments(parser) -> None:
    d = SimConfig()
    add_trace_arguments(parser)
    parser.set_defaults(request_rate=None)
    for action in parser._actions:
        if action.dest == "request_rate":
            action.help = (f"mean arrivals per second; inf sends all at t=0 (default: "
                           f"{100 * RATE_FRACTION:.0f}%% of the simulated capacity: a rate "
                           "that short probes show keeps a level queue)")
    add_served_system_arguments(parser)
    parser.set_defaults(num_gpus=None)  # None: a --plan's own, else SimConfig's
    for action in parser._actions:
        if action.dest == "num_gpus":
            action.help = (f"pipeline stages (default: a --plan's own, else {d.num_gpus}; "
                           "one that differs from the plan's is refused)")
    parser.add_argument_group("plan").add_argument(
        "--plan", default=None, metavar="PLAN.json",
        help="a plan from `simulate plan`: its checkpoints, per-router operating points, "
             "bank sizes and GPU count replace --checkpoints, --skip-target, --bank-fraction "
             "and --num-gpus")
    g = parser.add_argument_group("device and memory")
    g.add_argument("--device", default=d.device, help=f"{', '.join(DEVICES)} (default: {d.device})")
    g.add_argument("--cost-model", default=d.cost_model, metavar="NAME|PATH",
                   help=f"auto (the committed measured profile of this model on this device, "
                        f"else the analytic roofline), {', '.join(sorted(COST_MODELS))}, or a "
                        f"profile path (default: {d.cost_model})")
    g.add_argument("--gpu-memory", type=float, default=None, metavar="GIB",
                   help="memory per GPU in GiB (default: the device's)")
    g.add_argument("--bank-fraction", type=float, default=d.bank_fraction,
                   help=f"share of GPU memory for the banks (default: {d.bank_fraction})")
    g = parser.add_argument_group("skipping")
    g.add_argument("--skip-model", default=None, choices=sorted(SKIP_MODELS), metavar="NAME",
                   help=f"{', '.join(sorted(SKIP_MODELS))} (default: {d.skip_model}, the committed "
                        "SkipProfile of SmolLM2; parametric when --skip-rates, --p-change or "
                        "--exit-prob is given)")
    g.add_argument("--skip-rates", default=None, help="parametric: hit rate per inner checkpoint "
                   "(comma list, or one value for all)")
    g.add_argument("--p-change", default=None,
                   help="parametric: P(a hit changes the token), per checkpoint or one value")
    g.add_argument("--exit-prob", type=float, default=None, help="parametric: P(a hit exits)")
    g.add_argument("--skip-config", default=None, metavar="FILE",
                   help="parametric: JSON/YAML config; replay: CSV/Parquet of decisions; "
                        "measured: a SkipProfile JSON from `simulate calibrate`")
    g.add_argument("--skip-target", type=float, default=None, metavar="AGREEMENT",
                   help="measured: the SkipProfile's figures for this target agreement "
                        "(default: the profile's own target)")
    add_output_arguments(parser)


def add_served_system_arguments(parser) -> None:
    """The served system's flags (plan, scheduler, batching), shared with `execute`."""
    d = SimConfig()
    g = parser.add_argument_group("served system")
    g.add_argument("--model", default=d.model,
                   help=f"model spec name or HF folder (default: {d.model})")
    g.add_argument("--checkpoints", default=d.checkpoints,
                   help=f"block sizes or boundaries (default: {d.checkpoints})")
    g.add_argument("--scheduler", "--policy", dest="policy", default=d.policy,
                   choices=sorted(SCHEDULERS), metavar="NAME",
                   help=f"scheduler: {', '.join(sorted(SCHEDULERS))} (default: {d.policy}; "
                        "--policy is an alias)")
    g.add_argument("--kv-policy", default=d.kv_policy, choices=KV_HOLE_POLICIES, metavar="NAME",
                   help=f"KV holes of skipped layers: {', '.join(KV_HOLE_POLICIES)} "
                        f"(default: {d.kv_policy})")
    g.add_argument("--lookup-placement", default=d.lookup_placement,
                   help="gpu: lookups in line in the step; cpu: on the host, overlapped "
                        "(default: gpu)")
    g.add_argument("--num-gpus", type=int, default=d.num_gpus, help="pipeline stages (default: 1)")
    g.add_argument("--max-num-seqs", type=int, default=d.max_num_seqs,
                   help=f"most requests running / in one batch (default: {d.max_num_seqs})")
    g.add_argument("--max-batched-tokens", type=int, default=d.max_batched_tokens,
                   help=f"most tokens in one step (default: {d.max_batched_tokens})")
    g.add_argument("--chunked-prefill", action="store_true", help="split prompts into chunks")
    g.add_argument("--prefill-chunk-tokens", type=int, default=d.prefill_chunk_tokens,
                   help=f"chunk size with --chunked-prefill (default: {d.prefill_chunk_tokens})")


def add_output_arguments(parser) -> None:
    """Where results go, shared with `execute`."""
    g = parser.add_argument_group("output")
    g.add_argument("--goodput", nargs="+", default=None, metavar="KEY:MS",
                   help="SLOs for goodput as vLLM bench: ttft:MS tpot:MS e2el:MS")
    g.add_argument("--out", default=None, metavar="DIR",
                   help="output folder (default: out/<timestamp>)")
    g.add_argument("--records-format", default="csv",
                   help="csv or parquet (`simulate run` streams parquet records of a trace over "
                        "50,000 requests to the file in chunks)")
    g.add_argument("--timeline", default=None, metavar="FILE",
                   help="write a Chrome trace (Perfetto)")
    g.add_argument("--timeline-window", default=None, metavar="START:END",
                   help="only the timeline's slices within these simulated seconds "
                        "(a whole run's timeline takes ~240 bytes a step)")
    g.add_argument("--timeline-sample", type=int, default=None, metavar="N",
                   help="only the timeline's steps that serve one of N requests spread "
                        "evenly over the trace")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")


def parse_goodput(items) -> dict:
    slos = {}
    for item in items or ():
        key, _, value = item.partition(":")
        if key not in GOODPUT_KEYS:
            raise UserError(f"--goodput {item!r}: key must be one of {', '.join(GOODPUT_KEYS)}")
        try:
            slos[GOODPUT_KEYS[key]] = float(value) / 1e3
        except ValueError:
            raise UserError(f"--goodput {item!r}: expected KEY:MILLISECONDS") from None
    return slos


def sim_config(args) -> SimConfig:
    if args.records_format not in ("csv", "parquet"):
        raise UserError(f"--records-format must be csv or parquet, got {args.records_format!r}")
    skip_options = {"hit_rates": args.skip_rates, "p_change": args.p_change,
                    "exit_prob": args.exit_prob, "skip_config": args.skip_config,
                    "skip_target": args.skip_target}
    parametric_flags = [f"--{k.replace('_', '-')}" for k, flag in
                        (("skip_rates", args.skip_rates), ("p_change", args.p_change),
                         ("exit_prob", args.exit_prob)) if flag is not None]
    skip_model = args.skip_model or ("parametric" if parametric_flags else SimConfig.skip_model)
    if parametric_flags and skip_model != "parametric":
        raise UserError(f"{', '.join(parametric_flags)} only apply to --skip-model parametric")
    values = dict(
        model=args.model, device=args.device, cost_model=args.cost_model,
        checkpoints=args.checkpoints, policy=args.policy, skip_model=skip_model,
        skip_options=skip_options, kv_policy=args.kv_policy,
        lookup_placement=args.lookup_placement,
        gpu_memory_bytes=_gib_to_bytes(args.gpu_memory),
        bank_fraction=args.bank_fraction, max_num_seqs=args.max_num_seqs,
        max_batched_tokens=args.max_batched_tokens, chunked_prefill=args.chunked_prefill,
        prefill_chunk_tokens=args.prefill_chunk_tokens,
        num_gpus=SimConfig.num_gpus if args.num_gpus is None else args.num_gpus, seed=args.seed,
        **parse_goodput(args.goodput))
    if getattr(args, "plan", None):
        values.update(_plan_values(args, skip_model, skip_options))
    assert set(values) <= {f.name for f in fields(SimConfig)}
    return SimConfig(**values)


def _gib_to_bytes(gib: float | None) -> int | None:
    if gib is None:
        return None
    if not (gib > 0 and math.isfinite(gib)):
        raise UserError(f"--gpu-memory must be a positive number of GiB, got {gib}")
    return int(gib * 2**30)


def _plan_values(args, skip_model: str, skip_options: dict) -> dict:
    """What a plan file sets: boundaries, bank entries per router, the GPU count
    (pipeline stages) and (for the measured skip model) its embedded figures and
    per-router operating points. An explicit --num-gpus other than the plan's
    is refused: the plan's banks and batch were sized for the plan's memory.
    A plan without routers runs on its GPUs as balanced router-less stages
    (`policies/placement/stages.py`)."""
    from policies.placement.plan_file import load_plan
    from policies.placement.stages import checkpoints_of, staged
    from skipsim.model_spec import model_spec

    choice = load_plan(args.plan, model_spec(args.model))
    if args.num_gpus is not None and args.num_gpus != choice.num_gpus:
        raise UserError(f"--num-gpus {args.num_gpus} differs from the {choice.num_gpus} GPUs "
                        f"plan {args.plan} was made for: drop --num-gpus, or re-plan with "
                        f"`simulate plan --num-gpus {args.num_gpus}`")
    if skip_model == "measured":
        if args.skip_config:
            raise UserError("--plan brings its own skip figures: drop --skip-config")
        skip_options = {**skip_options, "skip_config": args.plan}
    bounds, entries = staged(choice.boundaries, choice.bank_entries, choice.num_gpus)
    return {"checkpoints": checkpoints_of(bounds), "bank_entries": entries,
            "num_gpus": choice.num_gpus, "skip_options": skip_options}


def tokenizer_args(args):
    """The trace's tokenizer: the model's when it is a local folder, else SmolLM2's."""
    ns = argparse.Namespace(**vars(args))
    ns.model = args.model if Path(args.model).is_dir() else "smollm2"
    return ns


def run_spec(args):
    """The run the flags describe, as the frozen `RunSpec` that `simulate sweep`
    builds for a point too. Without --request-rate a trace source is drawn at
    RATE_FRACTION of the simulated capacity; a saved trace or --arrival-times
    keeps its own arrivals."""
    from simulator.session import RunSpec
    from traces.loaders import own_arrivals

    tcfg = trace_config(tokenizer_args(args))
    fraction = None if own_arrivals(args.trace, tcfg) or tcfg.request_rate_per_s is not None \
        else RATE_FRACTION
    return RunSpec(trace=args.trace, trace_config=tcfg, sim=sim_config(args),
                   rate_fraction=fraction)


def _out_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path, n = Path("out") / stamp, 1
    while path.exists():
        path, n = Path("out") / f"{stamp}-{n}", n + 1
    return path


def warn_extrapolation(summary: dict, cost) -> None:
    """Once per run: how many steps the measured cost model priced outside its grid."""
    n = summary.get("steps_outside_profiled_grid", 0)
    if n:
        print(f"warning: {n:,} of {summary['steps']:,} steps lie outside the profiled grid "
              f"({cost.grid_note}): the measured fit extrapolates there", file=sys.stderr)


def run(args) -> int:
    cfg = sim_config(args)
    # the workload flags, paths and names are checked before anything heavy is imported
    trace_config(tokenizer_args(args))
    out = check_writable_dir(_out_dir(args.out), "--out")
    if args.timeline:
        check_writable_file(args.timeline, "--timeline")
    from simulator.record_sink import STREAM_CHUNK_ROWS
    from simulator.run import Setup
    from simulator.session import overload_warning, resolve_point, simulate_point, write_point
    from simulator.timeline import parse_window, sample_requests
    from simulator.writers import format_summary

    spec = run_spec(args)
    setup = Setup(cfg)  # every name and the memory split checked before any work
    window = parse_window(args.timeline_window)
    sample_requests(1, args.timeline_sample)  # checked before any work
    work = resolve_point(spec, setup)
    trace = work.trace
    stream = (out / "requests.parquet" if args.records_format == "parquet"
              and len(trace) > STREAM_CHUNK_ROWS else None)
    from tqdm import tqdm

    with tqdm(total=len(trace), desc="simulating", unit="req", file=sys.stderr,
              disable=True if args.no_progress else None, leave=False) as bar:
        point = simulate_point(spec, setup, work, timeline=bool(args.timeline), progress=bar,
                               timeline_window=window, timeline_sample=args.timeline_sample,
                               stream_records_to=stream)
    print(format_summary(point.summary, point.labels, point.meta))
    warning = overload_warning(point)
    if warning:
        print(warning, file=sys.stderr)
    paths = write_point(point, spec, out, args.records_format)
    if args.timeline:
        timeline = point.sim.timeline
        path = timeline.write(args.timeline)
        paths.append(path)
        print(f"timeline: {path}: {path.stat().st_size / 1e6:.1f} MB, "
              f"{timeline.slices:,} slices"
              + (f" in {args.timeline_window} s" if window else "")
              + (f" serving {args.timeline_sample} sampled requests" if args.timeline_sample
                 else "")
              + ("" if window or args.timeline_sample else
                 " (--timeline-window START:END or --timeline-sample N writes less)"),
              file=sys.stderr)
    warn_extrapolation(point.summary, setup.cost)
    print(f"wrote {', '.join(str(p) for p in paths)}", file=sys.stderr)
    return 0
