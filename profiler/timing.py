"""Timing one operation on the device at hand: warm-up, repeats, median and spread.

On a CUDA device a pair of `torch.cuda.Event`s brackets each repeat, because
kernel launches return before the work is done (PyTorch's benchmarking
notes). On a CPU running one thread, the calling thread's CPU time
(`time.thread_time`, CLOCK_THREAD_CPUTIME_ID) does: torch and faiss then
compute on that very thread, so the clock counts the work (memory stalls
included) and not the slices the OS gives other processes on a shared
machine, which on this 2-core box inflated wall-clock medians by up to 3x.
With more threads the wall clock (`time.perf_counter`) is the only honest
one. The clock used is recorded with every profile. Operations much
shorter than the clock's useful resolution are looped `inner` times per
repeat and divided, as `timeit` does. The thread count of CPU kernels is fixed
once with `torch.set_num_threads` and recorded with every profile.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from skipsim.errors import UserError


@dataclass(frozen=True)
class TimingConfig:
    """How each operation is timed; validation only."""

    warmup: int = 2
    repeats: int = 7
    min_repeat_s: float = 2e-3  # loop short ops until one repeat lasts this long
    max_point_s: float = 20.0  # slow ops get fewer repeats (never under 3)

    def __post_init__(self):
        if self.warmup < 0 or self.repeats < 1:
            raise UserError("timing needs warmup >= 0 and repeats >= 1")
        if self.min_repeat_s < 0 or self.max_point_s <= 0:
            raise UserError("timing: min_repeat_s must be >= 0 and max_point_s > 0")


@dataclass(frozen=True)
class Timing:
    """Seconds per call: the median of the repeats and their spread."""

    median_s: float
    p10_s: float
    p90_s: float
    repeats: int
    inner: int

    @property
    def spread(self) -> float:
        """(p90 - p10) / median: the relative width of the middle 80%."""
        return (self.p90_s - self.p10_s) / self.median_s if self.median_s > 0 else 0.0

    def scaled(self, factor: float) -> Timing:
        """The same timing divided among `1/factor` equal parts (per layer)."""
        return Timing(self.median_s * factor, self.p10_s * factor, self.p90_s * factor,
                      self.repeats, self.inner)

    @classmethod
    def from_samples(cls, samples_s: list[float], inner: int) -> Timing:
        import numpy as np  # here, so that `simulate profile --help` loads no numpy

        a = np.asarray(samples_s, dtype=float)
        return cls(float(np.median(a)), float(np.quantile(a, 0.1)),
                   float(np.quantile(a, 0.9)), len(a), inner)


def set_threads(threads: int | None) -> int:
    """Fix the CPU kernel thread count (None keeps torch's default); returns it."""
    import torch

    if threads is not None:
        if threads < 1:
            raise UserError(f"--threads must be >= 1, got {threads}")
        torch.set_num_threads(threads)
    try:
        import faiss

        faiss.omp_set_num_threads(torch.get_num_threads())
    except ImportError:
        pass
    return torch.get_num_threads()


def clock_name(device: str, threads: int) -> str:
    if device.startswith("cuda"):
        return "cuda_events"
    return "thread_time" if threads == 1 else "perf_counter"


class Clock:
    """Brackets a callable with the right clock for `device` ("cpu" or "cuda[:i]")."""

    def __init__(self, device: str, threads: int | None = None):
        import torch

        threads = torch.get_num_threads() if threads is None else threads
        self.name = clock_name(device, threads)
        self.cuda = self.name == "cuda_events"
        self.now = time.thread_time if self.name == "thread_time" else time.perf_counter

    def elapsed_s(self, fn: Callable[[], object], inner: int) -> float:
        if self.cuda:
            import torch

            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(inner):
                fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / 1e3 / inner
        t0 = self.now()
        for _ in range(inner):
            fn()
        return (self.now() - t0) / inner


def measure(fn: Callable[[], object], clock: Clock, config: TimingConfig,
            before: Callable[[], object] | None = None) -> Timing:
    """Time `fn`: one calibrating call, `warmup` discarded calls, then repeats.

    An op whose calls would overrun `max_point_s` is repeated fewer times
    (at least 3) and, being long, needs no warm-up beyond the first call.
    `before`, when given, runs untimed before every call, and each call is
    timed alone (no inner loop): for an op that a real run makes between
    other work, with the caches that work leaves (`lookup_profile`)."""
    if before is not None:
        def timed_alone() -> float:
            before()
            return clock.elapsed_s(fn, 1)

        first = timed_alone()
        warmup, repeats = config.warmup, config.repeats
        if first * (warmup + repeats) > config.max_point_s:
            warmup, repeats = 0, max(3, min(repeats, int(config.max_point_s / first)))
        for _ in range(warmup):
            timed_alone()
        return Timing.from_samples([timed_alone() for _ in range(repeats)], 1)
    first = clock.elapsed_s(fn, 1)
    inner, warmup, repeats = 1, config.warmup, config.repeats
    if config.min_repeat_s > 0 and first < config.min_repeat_s:
        inner = min(1000, math.ceil(config.min_repeat_s / max(first, 1e-7)))
    if first * (warmup + repeats) > config.max_point_s:
        warmup, repeats = 0, max(3, min(repeats, int(config.max_point_s / first)))
    for _ in range(warmup):
        clock.elapsed_s(fn, inner)
    return Timing.from_samples([clock.elapsed_s(fn, inner) for _ in range(repeats)], inner)
