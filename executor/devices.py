"""Where the executor runs: `cpu` with a fixed torch thread count (one by
default, as the committed CPU profile was measured) or `cuda`.
"""

from __future__ import annotations

from skipsim.errors import UserError

DEVICES = ("cpu", "cuda")


def configure_device(device: str = "cpu", threads: int = 1):
    """The torch.device to run on; sets the thread count of torch's intra-op
    pool and of faiss's OpenMP pool (the bank lookups), as the profiler does
    (`profiler.timing.set_threads`). Why faiss too: left at its default (every
    core), a 2-query search on a 2-core machine with other work on it waited
    for the second thread, 6.5 ms instead of 0.1 ms (measured on the 2-core
    Xeon), which the profile, measured on one thread, never prices."""
    import torch

    from profiler.timing import set_threads

    if device not in DEVICES:
        raise UserError(f"unknown device {device!r}: use one of {', '.join(DEVICES)}")
    if threads < 1:
        raise UserError(f"--threads must be at least 1, not {threads}")
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device is visible to torch")
    set_threads(threads)  # host-side work on CUDA too (faiss, bookkeeping)
    return torch.device(device)


def device_label(device: str, threads: int) -> str:
    """E.g. "cpu (1 thread)" or "cuda: NVIDIA H100 80GB HBM3"."""
    import torch

    if device == "cuda":
        return f"cuda: {torch.cuda.get_device_name()}"
    return f"cpu ({threads} thread{'s' if threads != 1 else ''})"
