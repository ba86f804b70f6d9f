"""The device a profile is measured on: checked names and recorded facts.

`resolve_device` turns the user's `--device` into a torch device string or a
one-line `UserError` (unknown name, CUDA asked for where there is none);
`device_facts` gathers what a profile must carry to be read later: device and
CPU names, cores, threads, library versions.
"""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime

from skipsim.errors import UserError

DEVICE_KINDS = ("cpu", "cuda")


def resolve_device(name: str) -> str:
    """"cpu", "cuda" or "cuda:N", checked against the machine."""
    import torch

    key = name.strip().lower()
    kind, _, index = key.partition(":")
    if kind not in DEVICE_KINDS or (index and not index.isdigit()) or (kind == "cpu" and index):
        raise UserError(f"unknown device {name!r}: use cpu, cuda or cuda:N")
    if kind == "cpu":
        return "cpu"
    if not torch.cuda.is_available():
        raise UserError(f"device {name!r} asked for, but this machine has no CUDA GPU "
                        f"(torch {torch.__version__}); use --device cpu")
    n = torch.cuda.device_count()
    if index and int(index) >= n:
        raise UserError(f"device {name!r} does not exist: this machine has {n} CUDA GPU(s)")
    return f"cuda:{int(index or 0)}"


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def faiss_has_gpu() -> bool:
    try:
        import faiss
    except ImportError:
        return False
    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


def device_facts(device: str, threads: int) -> dict:
    """Metadata recorded with a profile (all JSON-serialisable)."""
    import torch

    try:
        import faiss
        faiss_version = faiss.__version__
    except ImportError:
        faiss_version = None
    name = torch.cuda.get_device_name(device) if device.startswith("cuda") else cpu_name()
    return {
        "device": device,
        "device_kind": device.split(":")[0],
        "device_name": name,
        "cpu_name": cpu_name(),
        "cpu_cores": os.cpu_count(),
        "threads": threads,
        "torch_version": torch.__version__,
        "faiss_version": faiss_version,
        "faiss_gpu": faiss_has_gpu(),
        "platform": platform.platform(),
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
