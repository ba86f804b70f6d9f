"""The workload a run simulates, and the rate it reports.

Three ways to the arrival times, and each is said plainly:

- drawn at `--request-rate` (Gamma gaps, as vLLM bench);
- drawn at the default rate, a share of the simulated capacity found by
  short probes (`default_rate.py`), only when nothing else fixes the
  arrivals: a source by name, no `--request-rate`, no `--arrival-times`;
- the trace's own: a saved trace without `--request-rate`, or
  `--arrival-times FILE`. No probes run; the rate reported is the one the
  arrivals achieve, never a rate that was not used.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from simulator.cli import tokenizer_args
from simulator.default_rate import choose_rate
from traces.cli import print_notes, trace_config
from traces.loaders import is_saved_trace, load_trace
from traces.trace import Trace


@dataclass
class Workload:
    trace: Trace
    request_rate_per_s: float | None  # the rate arrivals were drawn at; None: the trace's own
    meta: dict = field(default_factory=dict)  # written with the results

    @property
    def arrivals(self) -> str:
        return self.trace.metadata.get("arrivals", "drawn")


def tokenizer_id(trace: Trace) -> str | None:
    """What counted the trace's tokens (vLLM bench's `tokenizer_id`); None for
    synthetic lengths, which no tokenizer counted."""
    name = trace.metadata.get("tokenizer") or trace.metadata.get(
        "source_metadata", {}).get("tokenizer")
    return "SmolLM2-135M-Instruct" if name == "smollm2" else name


def resolve_workload(args, cfg, setup, rate_fraction: float) -> Workload:
    targs = tokenizer_args(args)
    meta = {"trace": args.trace, "burstiness": args.burstiness}
    own_arrivals = bool(args.arrival_times) or (
        args.request_rate is None and is_saved_trace(args.trace))
    if args.request_rate is None and not own_arrivals:
        # the workload with arrivals at 1 req/s: the probes rescale its times
        choice = choose_rate(load_trace(args.trace, trace_config(targs, 1.0)), cfg,
                             rate_fraction, setup)
        rate = choice.rate_per_s
        meta["rate_note"] = choice.note()
        print(f"request rate: {rate:.3f} req/s ({meta['rate_note']})", file=sys.stderr)
        trace = load_trace(args.trace, trace_config(targs, rate))
    else:
        trace = load_trace(args.trace, trace_config(targs))
        rate = None if own_arrivals else trace.metadata.get("request_rate_per_s")
    print_notes(trace)
    work = Workload(trace, rate, meta)
    meta["request_rate_per_s"] = rate
    meta["arrivals"] = work.arrivals
    meta["tokenizer_id"] = tokenizer_id(trace)
    if rate is None:
        achieved = trace.summary().get("achieved_rate_per_s", float("inf"))
        meta["arrival_rate_per_s"] = achieved
        whose = "replayed" if args.arrival_times else "trace's own"
        print(f"arrivals: the {whose} arrival times ({len(trace):,} requests over {trace.duration_s:.1f} s, "
              f"{achieved:.3f} req/s); no rate probes", file=sys.stderr)
    return work
