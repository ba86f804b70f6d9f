"""The executor's configuration: typed, frozen, validated, no side effects.

The served system (plan, scheduler, KV policy, batching limits, memory split,
seed) is the simulator's `SimConfig`, shared field for field with `simulate
run`; the fields here are what only a real run has: how tokens decide to
skip, the torch device, threads and dtype, and how accuracy is measured.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from simulator.config import SimConfig
from skipsim.errors import UserError

DTYPES = ("float32", "bfloat16", "float16")


@dataclass(frozen=True)
class ExecConfig:
    sim: SimConfig
    skip_mode: str = "router"  # a name of executor.skip_modes.SKIP_MODES
    torch_device: str = "cpu"  # cpu | cuda
    torch_threads: int = 1  # as the committed CPU profile was measured
    dtype: str = "float32"
    # False: teacher-forced agreement (each input = the full model's token)
    free_running: bool = False
    check_integrity: bool = False  # KV pages and request state checked after every step (tests)

    def __post_init__(self):
        if self.torch_device not in ("cpu", "cuda"):
            raise UserError("--device must be cpu or cuda for `execute`, "
                            f"got {self.torch_device!r}")
        if self.torch_threads < 1:
            raise UserError("--threads must be at least 1")
        if self.dtype not in DTYPES:
            raise UserError(f"--dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if self.sim.num_gpus != 1:
            raise UserError("`execute` runs on one device: --num-gpus must be 1")
        if self.sim.lookup_placement != "gpu":
            raise UserError("`execute` runs lookups in line (--lookup-placement gpu); "
                            "on CUDA without faiss GPU support they run on the host, timed")

    def to_dict(self) -> dict:
        return asdict(self)
