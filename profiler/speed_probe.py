"""A short machine-speed probe: one memory-bound op, timed now.

On a shared VM the speed of memory-bound work drifts more than validate's
3% goal (`benchmarks/bench_machine_drift.py`: 22.1-34.6 ms for this op over
one quiet minute on the 2-core Xeon). A profile records the probe's time
when its layers were measured (`speed_probe` in its JSON metadata);
`simulate validate` takes it before and after every executor run, so each
point's errors can be read beside how fast the machine was during the real
run relative to when the profile was measured. Nothing is rescaled by it.

The op: SmolLM2-135M's LM head, [4, 576] x [576, 49,152] float32 (a 113 MB
weight, 4 decode tokens), on one torch thread on the CPU (timed on the
thread's CPU clock, as the profiler times) or on the GPU (CUDA events); the
median of `CALLS` calls after one discarded call: about 0.5 s on the Xeon.
A fixed shape, whatever model is served, so every probe is comparable.
"""

from __future__ import annotations

import functools
import time

HIDDEN, VOCAB, TOKENS = 576, 49_152, 4  # SmolLM2-135M (config.json), a small decode batch
CALLS = 15
OP = (f"LM-head matmul [{TOKENS}x{HIDDEN}] x [{HIDDEN}x{VOCAB}] float32, one thread, "
      f"median of {CALLS} calls (profiler.speed_probe)")


@functools.cache
def operands(device: str):
    """The op's inputs, made once per process (drawing 28 M numbers takes
    longer than the probe)."""
    import torch

    gen = torch.Generator().manual_seed(0)
    return (torch.randn(TOKENS, HIDDEN, generator=gen).to(device),
            torch.randn(VOCAB, HIDDEN, generator=gen).to(device))


def probe_s(device: str = "cpu") -> float:
    """The op's median time now (s) on `device`."""
    import statistics

    import torch

    x, w = operands(device)
    on_cuda = device.startswith("cuda")
    threads = torch.get_num_threads()
    if not on_cuda:
        torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            samples = [_timed(lambda: x @ w.T, on_cuda) for _ in range(CALLS + 1)][1:]
    finally:
        if not on_cuda:
            torch.set_num_threads(threads)
    return float(statistics.median(samples))


def _timed(fn, on_cuda: bool) -> float:
    if on_cuda:
        import torch

        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3
    t0 = time.thread_time()
    fn()
    return time.thread_time() - t0


def reference(meta: dict) -> float | None:
    """A profile's probe time (s), None for a profile measured before probes."""
    probe = meta.get("speed_probe") or {}
    value = probe.get("reference_s")
    return float(value) if value else None


def profile_reference(path: str | None) -> float | None:
    """The probe reference of the profile at `path` (a table's JSON sidecar,
    or a saved fit's meta); None where it has none or cannot be read."""
    import json
    from pathlib import Path

    if not path:
        return None
    p = Path(path)
    meta_path = p if p.name.endswith(".fit.json") else p.with_suffix(".json")
    try:
        data = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        return None
    meta = data.get("meta", data) if isinstance(data, dict) else {}
    return reference(meta) if isinstance(meta, dict) else None


def relative_speed(reference_s: float | None, probe_times_s: list[float]) -> float | None:
    """How fast the machine ran against the profile's probe: reference / now
    (0.8: work took 1.25x as long as when the profile was measured); None
    without a reference or a probe."""
    times = [t for t in probe_times_s if t and t > 0]
    if reference_s is None or not times:
        return None
    return reference_s / (sum(times) / len(times))
