"""The workload a run simulates, and the rate it reports.

Three ways to the arrival times, and each is said plainly:

- drawn at `--request-rate` (Gamma gaps, as vLLM bench);
- drawn at a share of the simulated capacity found by short probes
  (`default_rate.py`): `simulate run`'s default when nothing else fixes the
  arrivals (a source by name, no `--request-rate`, no `--arrival-times`),
  and a sweep's `rate-fraction`;
- the trace's own: a saved trace without `--request-rate`, or
  `--arrival-times FILE`. No probes run; the rate reported is the one the
  arrivals achieve, never a rate that was not used.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace

from simulator.config import RATE_FRACTION
from simulator.default_rate import choose_rate
from traces.cli import print_notes
from traces.config import TraceConfig
from traces.loaders import load_trace, own_arrivals
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


def resolve_workload(trace_name: str, tcfg: TraceConfig, cfg, setup,
                     rate_fraction: float | None, verbose: bool = True) -> Workload:
    """The trace a run simulates. `rate_fraction` (a share of the simulated
    capacity) redraws the arrivals unless they are replayed from a file;
    `verbose` says on stderr what was chosen (sweep workers keep quiet)."""
    say = (lambda msg: print(msg, file=sys.stderr)) if verbose else (lambda msg: None)
    meta = {"trace": trace_name, "burstiness": tcfg.burstiness}
    if rate_fraction is not None and not tcfg.arrival_times_file:
        # the workload with arrivals at 1 req/s: the probes rescale its times; the
        # capacity is found the same way whatever the fraction asked for
        unit = load_trace(trace_name, replace(tcfg, request_rate_per_s=1.0))
        choice = choose_rate(unit, cfg, RATE_FRACTION, setup)
        if rate_fraction != RATE_FRACTION:
            choice = replace(choice, fraction=rate_fraction,
                             rate_per_s=rate_fraction * choice.sustainable_per_s)
        rate = choice.rate_per_s
        meta["rate_note"] = choice.note()
        say(f"request rate: {rate:.3f} req/s ({meta['rate_note']})")
        trace = load_trace(trace_name, replace(tcfg, request_rate_per_s=rate))
        own = False
    else:
        own = own_arrivals(trace_name, tcfg)
        trace = load_trace(trace_name, tcfg)
        rate = None if own else trace.metadata.get("request_rate_per_s")
    if verbose:
        print_notes(trace)
    work = Workload(trace, rate, meta)
    meta["request_rate_per_s"] = rate
    meta["arrivals"] = work.arrivals
    meta["tokenizer_id"] = tokenizer_id(trace)
    if rate is None:
        achieved = trace.summary().get("achieved_rate_per_s", float("inf"))
        meta["arrival_rate_per_s"] = achieved
        whose = "replayed" if tcfg.arrival_times_file else "trace's own"
        say(f"arrivals: the {whose} arrival times ({len(trace):,} requests over "
            f"{trace.duration_s:.1f} s, {achieved:.3f} req/s); no rate probes")
    return work
