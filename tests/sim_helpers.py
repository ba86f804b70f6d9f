"""Cost models with closed-form times for the simulator's specification tests."""

from __future__ import annotations

import numpy as np

from profiler.cost_model import CostModel
from simulator.config import SimConfig
from simulator.run import simulate
from traces.trace import Trace


class ServiceCost(CostModel):
    """A block step takes `service_s` (deterministic) or an exponential draw
    with that mean, whatever the batch; everything else is free."""

    name = label = "test service"

    def __init__(self, service_s: float, exponential: bool, seed: int = 0):
        self.service_s, self.exponential = service_s, exponential
        self.rng = np.random.default_rng(seed)
        self.draws: list[float] = []

    def block_time_s(self, num_layers, batch):
        t = self.rng.exponential(self.service_s) if self.exponential else self.service_s
        self.draws.append(t)
        return t

    def lm_head_time_s(self, num_tokens):
        return 0.0

    def lookup_time_s(self, bank_entries, num_queries):
        return 0.0

    def kv_projection_time_s(self, num_tokens, num_layers):
        return 0.0

    def skip_action_time_s(self, num_tokens, macs_per_token):
        return 0.0

    step_overhead_s = 0.0


class PerTokenCost(ServiceCost):
    """Compute-bound: a block step costs `service_s` per token in the batch."""

    def __init__(self, service_s: float, lookup_s: float = 0.0):
        super().__init__(service_s, exponential=False)
        self.lookup_s = lookup_s

    def block_time_s(self, num_layers, batch):
        return self.service_s * batch.tokens

    def lookup_time_s(self, bank_entries, num_queries):
        return self.lookup_s if num_queries else 0.0


def make_trace(arrivals, prompts, outputs) -> Trace:
    n = len(arrivals)
    return Trace(np.arange(n), np.asarray(arrivals, float), np.asarray(prompts),
                 np.asarray(outputs), [None] * n)


def run_with(cost, trace: Trace, monkeypatch, **cfg):
    """simulate() with `cost` as the cost model (registered for this test only)."""
    from profiler.cost_model import COST_MODELS

    monkeypatch.setitem(COST_MODELS, "test", lambda spec, device: cost)
    return simulate(trace, SimConfig(cost_model="test", **cfg))
