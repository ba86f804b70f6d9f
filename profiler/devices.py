"""Device specs for the analytic roofline: peak FLOP/s by dtype, memory
bandwidth, memory size, host link, and the fixed per-step latencies the
roofline cannot see.

Datasheet numbers are dense (no structured sparsity). The `cpu` entry is an
assumption about this project's reference machine (2 vCPUs of an AMD EPYC
Milan, Zen 3, 2.45 GHz as reported by lscpu/BogoMIPS), not a measurement;
the profiler's measured model replaces it where a profile exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from skipsim.errors import UserError
from skipsim.model_spec import GIB

GB = 1e9


@dataclass(frozen=True)
class DeviceSpec:
    name: str
    peak_flops_per_s: dict  # dtype bytes (4 = fp32, 2 = bf16/fp16) -> FLOP/s
    memory_bandwidth_bytes_per_s: float
    memory_bytes: int
    host_link_bytes_per_s: float  # host <-> device copies (inf: same memory)
    step_overhead_s: float  # kernel launches + scheduler bookkeeping per block step
    lookup_overhead_s: float  # fixed cost of one batched bank search call

    def peak_for(self, dtype_bytes: int) -> float:
        if dtype_bytes not in self.peak_flops_per_s:
            raise UserError(f"device {self.name!r} has no peak for {dtype_bytes}-byte dtypes")
        return self.peak_flops_per_s[dtype_bytes]


DEVICES = {
    # Zen 3: two 256-bit FMA pipes per core = 2 x 8 fp32 lanes x 2 FLOP = 32
    # FLOP/cycle (AMD "Zen 3" core, Software Optimization Guide for AMD
    # Family 19h, ch. 2.11); 2 cores x 2.45 GHz x 32 = 156.8 GFLOP/s. AVX2 has
    # no bf16 arithmetic, so 2-byte dtypes compute at the fp32 rate. Memory:
    # a Milan socket has 8 x DDR4-3200 = 204.8 GB/s (AMD EPYC 7003 datasheet),
    # but 2 cores sustain far less; we assume 30 GB/s (about 15 GB/s per core,
    # typical single-core STREAM on Zen 3). 16 GiB of the VM's 23 GiB serve.
    "cpu": DeviceSpec("cpu (2x Zen 3 cores, assumed)", {4: 156.8e9, 2: 156.8e9},
                      30 * GB, 16 * GIB, float("inf"), 50e-6, 20e-6),
    # NVIDIA A100 80GB SXM datasheet: FP32 19.5 TFLOPS, BF16 tensor 312 TFLOPS,
    # HBM2e 2,039 GB/s, PCIe Gen4 64 GB/s (both directions, so 32 per direction).
    "a100-80gb": DeviceSpec("A100-80GB-SXM", {4: 19.5e12, 2: 312e12},
                            2039 * GB, 80 * GB, 32 * GB, 30e-6, 15e-6),
    # NVIDIA H100 SXM5 datasheet: FP32 67 TFLOPS, BF16 tensor 989 TFLOPS dense,
    # HBM3 3.35 TB/s, 80 GB, PCIe Gen5 128 GB/s (64 per direction).
    "h100-sxm": DeviceSpec("H100-SXM", {4: 67e12, 2: 989e12},
                           3350 * GB, 80 * GB, 64 * GB, 25e-6, 12e-6),
    # NVIDIA H200 datasheet: same compute as H100 SXM, HBM3e 4.8 TB/s, 141 GB.
    "h200": DeviceSpec("H200-SXM", {4: 67e12, 2: 989e12},
                       4800 * GB, 141 * GB, 64 * GB, 25e-6, 12e-6),
}
# Per-step overheads are assumptions: a block step launches ~10 kernels per
# layer group (a few us each, CUDA graphs aside) plus Python scheduling; a
# faiss search call costs ~10-20 us before any work.


def device_spec(name: str) -> DeviceSpec:
    try:
        return DEVICES[name.lower()]
    except KeyError:
        raise UserError(f"unknown device {name!r}: use one of {', '.join(DEVICES)}") from None
