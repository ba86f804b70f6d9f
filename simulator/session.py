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
from dataclasses import dataclass, field, replace
from pathlib import Path

from simulator.config import SimConfig
from simulator.default_rate import choose_rate, is_level, queue_levels
from simulator.metrics import summarize
from simulator.run import Setup, SimResult, simulate
from simulator.writers import write_outputs
from skipsim.errors import UserError
from traces.loaders import TraceConfig, load_trace
from traces.trace import Trace

RATE_FRACTION = 0.8  # default load: this share of the simulated capacity


@dataclass(frozen=True)
class RunSpec:
    """Everything one run needs. The trace's own request rate is ignored
    when `rate_fraction` is set: the rate is then that share of this
    configuration's simulated capacity (`default_rate.py`)."""

    trace: str = "sharegpt"  # a source name or a saved trace's path
    trace_config: TraceConfig = field(default_factory=TraceConfig)
    sim: SimConfig = field(default_factory=SimConfig)
    rate_fraction: float | None = None

    def __post_init__(self):
        if self.rate_fraction is not None and not 0.0 < self.rate_fraction:
            raise UserError(f"the rate fraction must be positive, got {self.rate_fraction}")

    @property
    def replays_arrivals(self) -> bool:
        return bool(self.trace_config.arrival_times_file)


@dataclass
class PointResult:
    records: dict  # RECORD_COLUMNS -> arrays
    summary: dict  # metrics.summarize
    labels: dict  # cost_model, skip_model, device, policy ...
    meta: dict  # trace, burstiness, request_rate_per_s, rate_note, memory
    sim: SimResult


def resolve_rate(spec: RunSpec, setup: Setup) -> dict:
    """The run's metadata so far: the request rate it uses (`rate_per_s`),
    with the probes' note when that is a share of the simulated capacity."""
    meta = {"trace": spec.trace, "burstiness": spec.trace_config.burstiness}
    rate = spec.trace_config.request_rate_per_s
    if spec.rate_fraction is not None and not spec.replays_arrivals:
        # the workload with arrivals at 1 req/s: the probes rescale its times
        unit = load_trace(spec.trace, _with_rate(spec.trace_config, 1.0))
        # the capacity is found the same way whatever the fraction asked for
        # (choose_rate starts its probes from its own fraction of saturation)
        choice = choose_rate(unit, spec.sim, RATE_FRACTION, setup)
        choice = replace(choice, fraction=spec.rate_fraction,
                         rate_per_s=spec.rate_fraction * choice.sustainable_per_s)
        rate, meta["rate_note"] = choice.rate_per_s, choice.note()
    meta["request_rate_per_s"] = rate if not spec.replays_arrivals else None
    return {**meta, "rate_per_s": rate}


def load_point_trace(spec: RunSpec, meta: dict) -> Trace:
    """The run's trace at the rate `resolve_rate` chose."""
    return load_trace(spec.trace, _with_rate(spec.trace_config, meta["rate_per_s"]))


def simulate_point(spec: RunSpec, setup: Setup, trace: Trace, meta: dict,
                   timeline: bool = False, progress=None) -> PointResult:
    meta = {k: v for k, v in meta.items() if k != "rate_per_s"}
    result = simulate(trace, spec.sim, timeline=timeline, progress=progress, setup=setup)
    summary = summarize(result.records, result.engine, spec.sim, setup.spec.num_layers)
    meta["memory"] = vars(result.memory)
    return PointResult(result.records, summary, result.labels, meta, result)


def run_point(spec: RunSpec, progress=None) -> PointResult:
    """Resolve, size the rate and simulate: the whole of one run."""
    setup = Setup(spec.sim)  # every name and the memory split checked before any work
    meta = resolve_rate(spec, setup)
    return simulate_point(spec, setup, load_point_trace(spec, meta), meta, progress=progress)


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
                         spec.sim.to_dict(), records_format)


def _with_rate(cfg: TraceConfig, rate: float) -> TraceConfig:
    return replace(cfg, request_rate_per_s=rate)
