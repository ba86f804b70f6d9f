"""`simulate run` (the default subcommand): simulate serving a trace.

    simulate --trace sharegpt --policy deepest-first

Without --request-rate the rate is 80% of this configuration's simulated
capacity: a rate that short probes show the server sustains with a level
queue (see `default_rate.py`); the choice and its probes are printed. Every run writes its records, JSON summary and resolved config to
--out (default out/<UTC timestamp>).
"""

from __future__ import annotations

import sys
from dataclasses import fields, replace
from datetime import datetime, timezone
from pathlib import Path

from policies.kv_hole import KV_HOLE_POLICIES
from policies.schedulers import SCHEDULERS
from profiler.cost_model import COST_MODELS
from profiler.devices import DEVICES
from simulator.config import SimConfig
from simulator.run import Setup
from simulator.session import (RATE_FRACTION, RunSpec, load_point_trace, overload_warning,
                               resolve_rate, simulate_point, write_point)
from simulator.skip_model import SKIP_MODELS
from simulator.writers import format_summary
from skipsim.errors import UserError
from traces.cli import add_trace_arguments, trace_config

NAME = "run"
HELP = "simulate serving a trace with layer skipping and print the summary (default)"
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
    g = parser.add_argument_group("served system")
    g.add_argument("--model", default=d.model, help=f"model spec name or HF folder (default: {d.model})")
    g.add_argument("--checkpoints", default=d.checkpoints,
                   help=f"block sizes or boundaries (default: {d.checkpoints})")
    g.add_argument("--policy", default=d.policy,
                   help=f"scheduler: {', '.join(sorted(SCHEDULERS))} (default: {d.policy})")
    g.add_argument("--kv-policy", default=d.kv_policy,
                   help=f"KV holes of skipped layers: {', '.join(KV_HOLE_POLICIES)} (default: {d.kv_policy})")
    g.add_argument("--lookup-placement", default=d.lookup_placement,
                   help="gpu: lookups in line in the step; cpu: on the host, overlapped (default: gpu)")
    g.add_argument("--num-gpus", type=int, default=d.num_gpus, help="pipeline stages (default: 1)")
    g.add_argument("--max-num-seqs", type=int, default=d.max_num_seqs,
                   help=f"most requests running / in one batch (default: {d.max_num_seqs})")
    g.add_argument("--max-batched-tokens", type=int, default=d.max_batched_tokens,
                   help=f"most tokens in one step (default: {d.max_batched_tokens})")
    g.add_argument("--chunked-prefill", action="store_true", help="split prompts into chunks")
    g.add_argument("--prefill-chunk-tokens", type=int, default=d.prefill_chunk_tokens,
                   help=f"chunk size with --chunked-prefill (default: {d.prefill_chunk_tokens})")
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
    g.add_argument("--skip-model", default=None,
                   help=f"{', '.join(sorted(SKIP_MODELS))} (default: {d.skip_model}, the committed "
                        "SkipProfile of SmolLM2; parametric when --skip-rates, --p-change or "
                        "--exit-prob is given)")
    g.add_argument("--skip-rates", default=None, help="parametric: hit rate per inner checkpoint "
                   "(comma list, or one value for all)")
    g.add_argument("--p-change", default=None, help="parametric: P(a hit changes the token), per checkpoint or one value")
    g.add_argument("--exit-prob", type=float, default=None, help="parametric: P(a hit exits)")
    g.add_argument("--skip-config", default=None, metavar="FILE",
                   help="parametric: JSON/YAML config; replay: CSV/Parquet of decisions; "
                        "measured: a SkipProfile JSON from `simulate calibrate`")
    g.add_argument("--skip-target", type=float, default=None, metavar="AGREEMENT",
                   help="measured: the SkipProfile's figures for this target agreement "
                        "(default: the profile's own target)")
    g = parser.add_argument_group("output")
    g.add_argument("--goodput", nargs="+", default=None, metavar="KEY:MS",
                   help="SLOs for goodput as vLLM bench: ttft:MS tpot:MS e2el:MS")
    g.add_argument("--out", default=None, metavar="DIR", help="output folder (default: out/<timestamp>)")
    g.add_argument("--records-format", default="csv", help="csv or parquet")
    g.add_argument("--timeline", default=None, metavar="FILE", help="write a Chrome trace (Perfetto)")
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
        gpu_memory_bytes=None if args.gpu_memory is None else int(args.gpu_memory * 2**30),
        bank_fraction=args.bank_fraction, max_num_seqs=args.max_num_seqs,
        max_batched_tokens=args.max_batched_tokens, chunked_prefill=args.chunked_prefill,
        prefill_chunk_tokens=args.prefill_chunk_tokens, num_gpus=args.num_gpus, seed=args.seed,
        **parse_goodput(args.goodput))
    assert set(values) <= {f.name for f in fields(SimConfig)}
    return SimConfig(**values)


def run_spec(args) -> RunSpec:
    """The run the flags describe (the trace's tokenizer: the model's when it
    is a local folder, else SmolLM2's)."""
    tokenizer = args.model if Path(args.model).is_dir() else "smollm2"
    rate = args.request_rate if args.request_rate is not None else float("inf")
    fraction = RATE_FRACTION if args.request_rate is None and not args.arrival_times else None
    tcfg = replace(trace_config(args, rate), tokenizer=tokenizer)
    return RunSpec(trace=args.trace, trace_config=tcfg, sim=sim_config(args),
                   rate_fraction=fraction)


def _out_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    path, n = Path("out") / stamp, 1
    while path.exists():
        path, n = Path("out") / f"{stamp}-{n}", n + 1
    return path


def run(args) -> int:
    spec = run_spec(args)
    setup = Setup(spec.sim)  # every name and the memory split checked before any work
    meta = resolve_rate(spec, setup)
    if "rate_note" in meta:
        print(f"request rate: {meta['rate_per_s']:.3f} req/s ({meta['rate_note']})",
              file=sys.stderr)
    trace = load_point_trace(spec, meta)
    from tqdm import tqdm

    with tqdm(total=len(trace), desc="simulating", unit="req", file=sys.stderr,
              disable=True if args.no_progress else None, leave=False) as bar:
        point = simulate_point(spec, setup, trace, meta, timeline=bool(args.timeline),
                               progress=bar)
    print(format_summary(point.summary, point.labels, point.meta))
    warning = overload_warning(point)
    if warning:
        print(warning, file=sys.stderr)
    out = _out_dir(args.out)
    paths = write_point(point, spec, out, args.records_format)
    if args.timeline:
        paths.append(point.sim.timeline.write(args.timeline))
    print(f"wrote {', '.join(str(p) for p in paths)}", file=sys.stderr)
    return 0
