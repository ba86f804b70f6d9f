"""What a workload is made of: `TraceConfig` (typed, frozen, only validates)
and the names of the trace sources.

Both are read by every CLI that takes a workload, before any trace is built,
so this module imports nothing heavy: the sources themselves (`loaders.py`,
numpy, the ShareGPT tokenizer) are imported when a trace is loaded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from skipsim.errors import UserError
from skipsim.registry import Registry

# `TRACE_LOADERS[name](cfg) -> Trace`; `loaders.py` registers them all
TRACE_LOADERS: Registry = Registry(lazy={
    name: "traces.loaders" for name in ("sharegpt", "fixed", "uniform", "lognormal")})
register_trace = TRACE_LOADERS.register


def check_rate(request_rate_per_s: float, burstiness: float) -> None:
    if not (request_rate_per_s > 0):
        raise UserError(f"--request-rate must be positive (or inf), got {request_rate_per_s}")
    if not (burstiness > 0) or math.isinf(burstiness):
        raise UserError(f"--burstiness must be a positive number, got {burstiness}")


DEFAULT_NUM_PROMPTS = 1000


@dataclass(frozen=True)
class TraceConfig:
    """None for num_prompts / request_rate_per_s: a source draws
    DEFAULT_NUM_PROMPTS requests all at t = 0; a saved trace keeps all of its
    requests and its own arrival times."""

    num_prompts: int | None = None
    request_rate_per_s: float | None = None
    burstiness: float = 1.0
    seed: int = 0
    arrival_times_file: str | None = None  # replay instead of Gamma arrivals
    tokenizer: str = "smollm2"
    prompt_tokens: int = 256  # fixed / uniform upper bound
    output_tokens: int = 128

    def __post_init__(self):
        if self.num_prompts is not None and self.num_prompts < 1:
            raise UserError(f"--num-prompts must be at least 1, got {self.num_prompts}")
        if self.seed < 0:
            raise UserError(f"--seed must be at least 0, got {self.seed}")
        check_rate(self.rate_per_s, self.burstiness)

    @property
    def count(self) -> int:
        return DEFAULT_NUM_PROMPTS if self.num_prompts is None else self.num_prompts

    @property
    def rate_per_s(self) -> float:
        return math.inf if self.request_rate_per_s is None else self.request_rate_per_s
