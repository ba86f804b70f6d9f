"""The simulation's configuration: typed, frozen, validated, no side effects.

Units are in the field names. The CLI takes its defaults from here. Checks
that need the model (weights + banks fit in memory, a request fits in the KV
cache) happen in `policies/memory_split.py` once the ModelSpec is known.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from skipsim.errors import UserError

# No router in the first 8 layers (early hidden states are not yet
# predictive, and skipping them costs the most accuracy), 4-layer blocks in
# the middle, 2-layer blocks near the top where hidden states change least
# and short skips or exits are most often safe: 7 routers for 30 layers.
# Other models get it scaled by relative depth (`CheckpointPlan.scaled`).
DEFAULT_CHECKPOINTS = "8,4,4,4,4,2,2,2"

# `simulate run`'s default load without --request-rate: this share of the
# simulated capacity (`default_rate.py` finds the capacity by short probes)
RATE_FRACTION = 0.8
DEFAULT_CHECKPOINTS_LAYERS = 30


@dataclass(frozen=True)
class SimConfig:
    model: str = "smollm2"
    device: str = "cpu"
    cost_model: str = "auto"  # measured profile of this model+device if committed, else roofline
    checkpoints: str = DEFAULT_CHECKPOINTS  # block sizes or boundaries
    policy: str = "deepest-first"
    skip_model: str = "measured"  # the committed SkipProfile of SmolLM2 (simulate calibrate)
    skip_options: dict = field(default_factory=dict)  # skip_rates, p_change, exit_prob, skip_config
    kv_policy: str = "project"
    lookup_placement: str = "gpu"  # gpu: in line in the step; cpu: overlapped, with host copies
    gpu_memory_bytes: int | None = None  # None: the device's memory
    bank_fraction: float = 0.01  # share of GPU memory given to the banks (all checkpoints)
    bank_entry_overhead_bytes: int = 8  # per entry beside its float32 key: decision + id
    # per inner checkpoint (a plan's); None: bank_fraction
    bank_entries: tuple[int, ...] | None = None
    kv_block_tokens: int = 16
    kv_watermark_fraction: float = 0.01  # free KV kept back at admission, as vLLM
    max_num_seqs: int = 256
    max_batched_tokens: int = 2048
    chunked_prefill: bool = False
    prefill_chunk_tokens: int = 512
    repair_batch_tokens: int = 256
    num_gpus: int = 1
    seed: int = 0
    slo_ttft_s: float | None = None
    slo_tpot_s: float | None = None
    slo_e2el_s: float | None = None

    def __post_init__(self):
        if self.lookup_placement not in ("gpu", "cpu"):
            raise UserError(f"--lookup-placement must be gpu or cpu, got {self.lookup_placement!r}")
        if self.gpu_memory_bytes is not None and not self.gpu_memory_bytes > 0:
            raise UserError("--gpu-memory must be positive")
        if not 0.0 <= self.bank_fraction < 1.0:
            raise UserError(f"--bank-fraction must lie in [0, 1), got {self.bank_fraction}")
        if self.bank_entries is not None and any(e < 0 for e in self.bank_entries):
            raise UserError("bank entries must not be negative")
        if not 0.0 <= self.kv_watermark_fraction < 1.0:
            raise UserError("the KV watermark must lie in [0, 1)")
        for name in ("kv_block_tokens", "max_num_seqs", "max_batched_tokens",
                     "prefill_chunk_tokens", "repair_batch_tokens", "num_gpus"):
            if getattr(self, name) < 1:
                raise UserError(f"--{name.replace('_', '-')} must be at least 1")
        if self.seed < 0:
            raise UserError(f"--seed must be at least 0, got {self.seed}")
        for name in ("slo_ttft_s", "slo_tpot_s", "slo_e2el_s"):
            v = getattr(self, name)
            if v is not None and not (v > 0 and math.isfinite(v)):
                raise UserError(f"SLO {name} must be a positive number")

    def to_dict(self) -> dict:
        return asdict(self)
