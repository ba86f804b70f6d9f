"""Timing an op with the caches a real step leaves: what to stream before each call.

The profiler times one op at a time; a real step runs it between other work.
Between two uses of one decoder layer's weights a decode pass streams every
other layer and the LM head; between two LM-head calls, all the layers. A
tight loop instead finds its weights where the last call left them: on a
CPU whose last-level cache holds them (the 2-core Xeon VM reports a 480 MiB
L3; SmolLM2-135M is 538 MB in float32, its LM head 113 MB, a layer 14 MB),
the loop prices memory-bound work below what a step pays.

`step_evict_bytes` is what streams before each timed layer and LM-head call
(`measure(before=)`):
the model's other weights, the bytes a decode pass moves between two uses of
the op's own (tied weights counted once), capped at twice the last-level
cache (more evicts no further; on a GPU that is the L2, so a large model is
not streamed in full per call). `cache_evictor` streams them.

Measured (`benchmarks/bench_cold_cache.py --rounds 2`, one thread, the
thread's CPU clock, 2-core Xeon VM under load 5-6; per layer, 4 distinct
layers a call): a decode layer at batch 1, context 256 took 2.29-2.32 ms in
a tight loop, 2.17-2.42 ms after 64 MB streamed (0.94-1.06x: not enough),
2.55-2.78 ms after 256 MB and 2.65-2.75 ms after the rule's 481 MB
(1.14-1.20x); at batch 8 the rule gave 1.12-1.16x, a 64-token prefill
1.10-1.18x. The LM head moved less on the loaded machine (0.97-1.10x at
1-16 tokens: the neighbours' traffic leaves the tight loop's L3 cold too).
A third run half an hour later (`--rounds 1 --evict-mb 256`): decode
layers 1.35x (batch 1) and 1.48x (batch 8), the prefill 1.28x, the LM head
1.24x and 1.27x at 1 and 4 tokens, 1.04x at 16;
on the quiet machine the LM-head matmul alone was 1.11-1.34x slower after
~320 MB of other weights (`bench_machine_drift.py --cold`). Executor runs
priced by layer rows measured warm and then cold back to back on the quick
grid (`benchmarks/bench_step_prices.py --measure-layers quick`, three pairs
of runs over 25 minutes): the cold rows priced prefill pieces 4-8 points
higher (no-skip -23.3% -> -19.1%, deepest-first -14.1% -> -9.4% in the
first pair), decode blocks within 4 points of the warm rows, and whole
steps 1.4-3.5 points higher; on that loaded machine the runs themselves
moved by 25-51 points between pairs. On the quiet machine, though, the
full grid timed cold priced a whole validate's executor steps far worse than
the tight loop (`profiler.layer_profile` has the figures), so cold timing is
an option (`simulate profile --cold-layers`), not the default.

The K/V projection rows are not timed cold: see `LayerBench.own_weights`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

CAP_CACHES = 2  # stream at most this many last-level caches' worth


def last_level_cache_bytes(device: str) -> int | None:
    """The largest cache of the device: the CPU's (sysfs) or a GPU's L2; None if unknown."""
    if device.startswith("cuda"):
        import torch

        return int(torch.cuda.get_device_properties(device).L2_cache_size) or None
    sizes = []
    for path in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        text = path.read_text().strip().upper()
        unit = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
        try:
            sizes.append(int(text.rstrip("KMG")) * unit)
        except ValueError:
            continue
    return max(sizes) if sizes else None


def weight_bytes(tensors) -> int:
    """Bytes of these tensors, each storage counted once (tied weights)."""
    seen, total = set(), 0
    for t in tensors:
        key = (t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())
        if key not in seen:
            seen.add(key)
            total += key[1]
    return total


def step_evict_bytes(model, own, device: str) -> int:
    """Bytes a decode pass streams between two uses of `own` (modules or
    tensors whose weights the timed op reads): the model's other weights,
    capped at `CAP_CACHES` last-level caches (see the module docstring)."""
    own_tensors = [p for m in own for p in (m.parameters() if hasattr(m, "parameters") else [m])]
    rest = weight_bytes(model.parameters()) - weight_bytes(own_tensors)
    cache = last_level_cache_bytes(device)
    return max(0, rest if cache is None else min(rest, CAP_CACHES * cache))


class CacheEvictor:
    """One host buffer (and one on the GPU when `device` is CUDA) of
    `max_bytes`; `before(n)` is a call that streams its first `n` bytes
    through the caches, leaving them as a block of layers does."""

    def __init__(self, max_bytes: int, device: str):
        import torch

        self.torch = torch
        self.host = np.zeros(max(1, max_bytes // 8))
        self.gpu = (torch.empty(max(1, max_bytes // 4), device=device)
                    if device.startswith("cuda") else None)

    def before(self, nbytes: int) -> Callable[[], None]:
        host = self.host[:max(1, nbytes // 8)]
        gpu = None if self.gpu is None else self.gpu[:max(1, nbytes // 4)]

        def evict() -> None:
            host.__iadd__(1.0)
            if gpu is not None:
                gpu.add_(1.0)
                self.torch.cuda.synchronize()

        return evict


def cache_evictor(nbytes: int, device: str) -> Callable[[], None]:
    """A call that streams `nbytes` through the caches (`CacheEvictor`)."""
    return CacheEvictor(nbytes, device).before(nbytes)
