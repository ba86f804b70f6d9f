"""`simulate trace`: build or load a trace, print its summary, optionally save it."""

from __future__ import annotations

import json
import sys

from skipsim.outputs import check_writable_file
from traces.config import DEFAULT_NUM_PROMPTS, TRACE_LOADERS, TraceConfig


def add_trace_arguments(parser) -> None:
    """Trace flags shared by every subcommand that takes a workload (vLLM bench names)."""
    d = TraceConfig()
    g = parser.add_argument_group("workload")
    g.add_argument("--trace", default="sharegpt", metavar="NAME|PATH",
                   help=f"a source ({', '.join(sorted(TRACE_LOADERS))}) or a saved "
                        ".jsonl/.parquet trace (default: sharegpt)")
    g.add_argument("--num-prompts", type=int, default=d.num_prompts,
                   help=f"requests to sample (default: {DEFAULT_NUM_PROMPTS}; a saved trace: "
                        "all of its requests, else its first N)")
    g.add_argument("--request-rate", type=float, default=d.request_rate_per_s,
                   help="mean arrivals per second; inf sends all at t=0 (default: inf; a "
                        "saved trace keeps its own arrival times unless this is given)")
    g.add_argument("--burstiness", type=float, default=d.burstiness,
                   help="Gamma shape of the gaps: 1 = Poisson, <1 burstier (default: 1)")
    g.add_argument("--seed", type=int, default=d.seed, help="seed of every random stream")
    g.add_argument("--arrival-times", default=None, metavar="FILE",
                   help="replay these timestamps instead of drawing arrivals")
    g.add_argument("--prompt-tokens", type=int, default=d.prompt_tokens,
                   help="prompt length of fixed traces, upper bound of uniform ones")
    g.add_argument("--output-tokens", type=int, default=d.output_tokens,
                   help="output length of fixed traces, upper bound of uniform ones")


def trace_config(args, request_rate_per_s: float | None = None) -> TraceConfig:
    return TraceConfig(
        num_prompts=args.num_prompts,
        request_rate_per_s=args.request_rate if request_rate_per_s is None else request_rate_per_s,
        burstiness=args.burstiness, seed=args.seed, arrival_times_file=args.arrival_times,
        tokenizer=getattr(args, "model", None) or TraceConfig.tokenizer,
        prompt_tokens=args.prompt_tokens, output_tokens=args.output_tokens)


def add_arguments(parser) -> None:
    add_trace_arguments(parser)
    parser.add_argument("--out", default=None, metavar="FILE",
                        help="save the trace (.jsonl or .parquet)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def format_summary(summary: dict, metadata: dict) -> str:
    lines = [f"trace: {metadata.get('source', '?')}  requests: {summary['requests']}"]
    ds = metadata.get("dataset")
    if ds:
        lines.append(f"  ShareGPT file: {ds['records']:,} complete records recovered"
                     + (f" (file truncated mid-record, {ds['bytes_dropped']:,} bytes dropped)"
                        if ds["truncated"] else "")
                     + f"; {ds['pairs']:,} with >= 2 turns")
    for key in ("prompt_tokens", "output_tokens"):
        s = summary.get(key)
        if s:
            lines.append(f"  {key:<14} mean {s['mean']:8.1f}  p50 {s['p50']:7.0f}  "
                         f"p99 {s['p99']:7.0f}  max {s['max']:6d}")
    if "duration_s" in summary:
        lines.append(f"  duration {summary['duration_s']:.2f} s   achieved rate "
                     f"{summary['achieved_rate_per_s']:.3f} req/s")
    return "\n".join(lines)


def print_notes(trace) -> None:
    """What loading the trace changed (sorted arrivals, a cut, redrawn arrivals)."""
    for note in trace.notes:
        print(f"note: {note}", file=sys.stderr)


def run(args) -> int:
    cfg = trace_config(args)
    if args.out:  # checked before the trace is built
        check_writable_file(args.out, "--out", (".jsonl", ".json", ".parquet"))
    from traces.loaders import load_trace

    trace = load_trace(args.trace, cfg)
    print_notes(trace)
    summary = trace.summary()
    if args.json:
        print(json.dumps({"summary": summary, "metadata": trace.metadata}, indent=2))
    else:
        print(format_summary(summary, trace.metadata))
    if args.out:
        path = trace.save(args.out)
        print(f"wrote {path}", file=sys.stderr)
    return 0


