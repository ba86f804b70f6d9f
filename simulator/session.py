"""One run as a plain function call: a frozen `RunSpec` in, a `PointResult`
(records, summary, labels) out, then written to a folder.

`simulate run`, `simulate sweep` (one call per point, in worker processes)
and validation share this code, so a sweep's point and the `simulate run`
command that reproduces it compute the same thing. The steps are separate
functions because `simulate run` prints between them (the chosen rate
before the simulation, the summary before the files are written).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from simulator.config import SimConfig
from simulator.default_rate import is_level, queue_levels
from simulator.metrics import summarize
from simulator.record_sink import ParquetStream
from simulator.run import Setup, SimResult, simulate
from simulator.workload import Workload, resolve_workload
from simulator.writers import write_outputs
from skipsim.errors import UserError
from traces.config import TraceConfig

__all__ = ["PointResult", "RunSpec", "overload_warning", "resolve_point",
           "run_point", "simulate_point", "write_point"]


@dataclass(frozen=True)
class RunSpec:
    """Everything one run needs. With `rate_fraction` set the arrivals are
    drawn at that share of this configuration's simulated capacity
    (`default_rate.py`) instead of the trace config's rate."""

    trace: str = "sharegpt"  # a source name or a saved trace's path
    trace_config: TraceConfig = field(default_factory=TraceConfig)
    sim: SimConfig = field(default_factory=SimConfig)
    rate_fraction: float | None = None

    def __post_init__(self):
        if self.rate_fraction is not None and not (
                self.rate_fraction > 0 and math.isfinite(self.rate_fraction)):
            raise UserError(f"the rate fraction must be positive, got {self.rate_fraction}")


@dataclass
class PointResult:
    records: dict  # RECORD_COLUMNS -> arrays
    summary: dict  # metrics.summarize
    labels: dict  # cost_model, skip_model, device, policy ...
    meta: dict  # trace, burstiness, request_rate_per_s, rate_note, memory
    sim: SimResult


def resolve_point(spec: RunSpec, setup: Setup, verbose: bool = True) -> Workload:
    """The point's trace, at the rate its spec asks for (probes run here)."""
    return resolve_workload(spec.trace, spec.trace_config, spec.sim, setup,
                            spec.rate_fraction, verbose)


def simulate_point(spec: RunSpec, setup: Setup, work: Workload, timeline: bool = False,
                   progress=None, timeline_window=None, timeline_sample=None,
                   stream_records_to: Path | None = None) -> PointResult:
    """Simulate the point; with `stream_records_to` the records are written
    there (Parquet) in chunks during the run instead of kept until the end."""
    sink = ParquetStream(stream_records_to) if stream_records_to is not None else None
    result = simulate(work.trace, spec.sim, timeline=timeline, progress=progress, setup=setup,
                      timeline_window=timeline_window, timeline_sample=timeline_sample,
                      sink=sink)
    summary = summarize(result.records, result.stats, setup.spec.num_layers,
                        spec.sim.slo_ttft_s, spec.sim.slo_tpot_s, spec.sim.slo_e2el_s)
    meta = {**work.meta, "memory": vars(result.memory)}
    return PointResult(result.records, summary, result.labels, meta, result)


def run_point(spec: RunSpec, progress=None) -> PointResult:
    """Resolve, size the rate and simulate: the whole of one run, quietly."""
    setup = Setup(spec.sim)  # every name and the memory split checked before any work
    return simulate_point(spec, setup, resolve_point(spec, setup, verbose=False),
                          progress=progress)


def overload_warning(point: PointResult) -> str | None:
    """A warning when requests in the system kept growing over the run."""
    rate = point.meta.get("request_rate_per_s")
    if rate is None or not math.isfinite(rate):
        return None
    mid, end = queue_levels(point.records)
    if is_level(mid, end):
        return None
    return (f"warning: overloaded: requests in the system grew from {mid:.0f} (2nd quarter "
            f"of the arrivals) to {end:.0f} (last quarter) at {rate:.3f} req/s offered, "
            f"{point.summary['request_throughput_per_s']:.3f} served; latencies grow with the "
            "run length: pass a lower --request-rate")


def write_point(point: PointResult, spec: RunSpec, out: str | Path,
                records_format: str = "csv") -> list[Path]:
    return write_outputs(out, point.records, point.summary, point.labels, point.meta,
                         spec.sim.to_dict(), records_format, point.sim.records_path)
