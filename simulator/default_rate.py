"""The default request rate: a stable operating point, found by short probes.

A saturation probe (every request at t = 0, `run.estimate_capacity`) bounds
the capacity from above, but it batches everyone in lock-step; at partial
load tokens reach the routers at different times and skips split the
batches further, so the rate the server sustains is lower. We therefore
probe candidate rates on a short prefix of the trace (its arrival times
rescaled to the rate, so every probe sees the same prompts and the same
arrival pattern) and call a rate stable when the number of requests in the
system (arrived, unfinished) stops growing: its mean over the last quarter
of the arrivals is at most GROWTH_TOLERANCE times that over the second
quarter (+ GROWTH_SLACK requests, for short probes' noise). In a
stable queue it levels off after the first quarter; above capacity it grows
linearly (Kleinrock, "Queueing Systems" vol. 1, §1.5: ρ ≥ 1 has no steady
state). Starting from `fraction` of the saturation probe's rate, the
candidate backs off by BACKOFF until a probe is stable; that rate is the
capacity estimate (a rate shown sustainable) and the default is `fraction`
of it, so the default sits below saturation by design, not by luck.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.config import SimConfig
from simulator.run import Setup, estimate_capacity, simulate
from traces.trace import Trace

PROBE_REQUESTS = 150  # prefix of the trace each rate probe simulates
MAX_PROBES = 6
BACKOFF = 0.85  # next candidate after a growing probe: this share of the last
# A level queue's quarter means fluctuate by tens of percent on short
# probes (a few independent E2E periods per quarter); an overloaded one grows
# by (1 - capacity/rate) requests per arrival, so only growth beyond these
# counts. Mild overload (< ~25%) can pass a short probe: the default takes
# `fraction` of the rate found, which leaves room for that.
GROWTH_TOLERANCE = 1.5
GROWTH_SLACK = 4.0


@dataclass(frozen=True)
class Probe:
    rate_per_s: float
    in_system_mid: float  # mean requests in the system over the 2nd quarter of arrivals
    in_system_end: float  # ... over the last quarter

    @property
    def stable(self) -> bool:
        return is_level(self.in_system_mid, self.in_system_end)

    def __str__(self) -> str:
        counts = f"{self.in_system_mid:.0f}->{self.in_system_end:.0f} in system"
        if not self.stable:
            return f"{self.rate_per_s:.3g} growing ({counts})"
        if self.in_system_end <= self.in_system_mid:
            return f"{self.rate_per_s:.3g} level ({counts})"
        # grew, but by less than a short probe's noise: not called stable
        return f"{self.rate_per_s:.3g} grew {counts}, within short-probe noise"


@dataclass(frozen=True)
class RateChoice:
    rate_per_s: float  # the default: fraction x sustainable
    fraction: float
    sustainable_per_s: float  # the probed rate found stable
    saturation_per_s: float  # the saturation probe's throughput (an upper bound)
    probes: tuple[Probe, ...]

    def note(self) -> str:
        found = (f"a rate whose {PROBE_REQUESTS}-request probe queue grew by no more than "
                 "short-probe noise" if self.probes[-1].stable else
                 "the lowest rate probed; every probe's queue grew: expect overload")
        return (f"{self.fraction:.0%} of the simulated capacity {self.sustainable_per_s:.3f} "
                f"req/s, {found} (saturation probe {self.saturation_per_s:.3f} req/s; probes "
                + ", ".join(str(p) for p in self.probes) + ")")


def in_system_at_arrivals(arrival_s: np.ndarray, finish_s: np.ndarray) -> np.ndarray:
    """Requests arrived and not finished just before each arrival (arrivals sorted)."""
    finished = np.searchsorted(np.sort(finish_s), arrival_s, side="right")
    return np.arange(len(arrival_s)) - finished


def queue_levels(records: dict) -> tuple[float, float]:
    """Mean requests in the system over the 2nd and over the last quarter of
    the arrivals of a run's records."""
    counts = in_system_at_arrivals(records["arrival_time_s"], records["finish_time_s"])
    q = max(1, len(counts) // 4)
    return float(np.mean(counts[q:2 * q])), float(np.mean(counts[-q:]))


def is_level(mid: float, end: float) -> bool:
    return end <= GROWTH_TOLERANCE * mid + GROWTH_SLACK


def probe(unit: Trace, cfg: SimConfig, rate_per_s: float, setup: Setup) -> Probe:
    """Simulate the first PROBE_REQUESTS requests of `unit` (arrivals at
    1 req/s) at `rate_per_s` and measure the queue's growth."""
    n = min(len(unit), PROBE_REQUESTS)
    trace = unit.head(n, unit.arrival_time_s[:n] / rate_per_s)
    return Probe(rate_per_s, *queue_levels(simulate(trace, cfg, setup=setup).records))


def choose_rate(unit: Trace, cfg: SimConfig, fraction: float, setup: Setup | None = None,
                ) -> RateChoice:
    """`fraction` of the sustainable rate of `cfg` on `unit` (a trace whose
    arrivals come at 1 req/s, rescaled for each probe)."""
    setup = setup or Setup(cfg)
    saturation = estimate_capacity(unit, cfg, setup=setup)
    probes = [probe(unit, cfg, fraction * saturation, setup)]
    while not probes[-1].stable and len(probes) < MAX_PROBES:
        probes.append(probe(unit, cfg, BACKOFF * probes[-1].rate_per_s, setup))
    sustainable = probes[-1].rate_per_s  # stable, or the most backed-off rate tried
    return RateChoice(fraction * sustainable, fraction, sustainable, saturation, tuple(probes))
