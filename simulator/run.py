"""One simulation from a trace and a `SimConfig`: resolve the names, split
the memory, check the run is possible, run the engine, collect results.

`estimate_capacity` is the saturation probe: the same configuration with
every request arriving at t = 0, an upper bound on the rate it sustains
(`default_rate.py` starts its search for the default rate from it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from policies.actions.base import skip_action
from policies.checkpoint_plan import CheckpointPlan
from policies.kv_hole import kv_hole_policy
from policies.schedulers import make_scheduler
from profiler.devices import device_spec
from simulator.components import build_cost_model, build_skip_model, host_link_bytes_per_s
from simulator.config import SimConfig
from simulator.engine import Engine
from simulator.kv_cache import PagedKVCache
from simulator.memory import MemorySplit, memory_split, stage_of_blocks
from simulator.records import RECORD_COLUMNS
from simulator.router import Router
from simulator.state import RequestTable
from simulator.timeline import Timeline
from skipsim.errors import UserError
from skipsim.model_spec import model_spec
from traces.trace import Trace


@dataclass
class SimResult:
    records: dict  # RECORD_COLUMNS -> arrays
    engine: Engine
    memory: MemorySplit
    labels: dict  # cost_model, skip_model, device, policy ...
    timeline: Timeline | None


class Setup:
    """Every object a run needs, resolved and checked once."""

    def __init__(self, cfg: SimConfig):
        self.cfg = cfg
        self.spec = model_spec(cfg.model)
        self.plan = CheckpointPlan.parse(cfg.checkpoints, self.spec.num_layers)
        self.scheduler = make_scheduler(cfg.policy)
        self.kv_policy = kv_hole_policy(cfg.kv_policy)
        self.cost = build_cost_model(cfg.cost_model, self.spec, cfg.device)
        self.skip_model = build_skip_model(
            cfg.skip_model if self.scheduler.uses_router else "no-skip", self.plan,
            cfg.skip_options)
        memory_bytes = cfg.gpu_memory_bytes or _device_memory(cfg.device)
        self.memory = memory_split(self.spec, self.plan, memory_bytes, cfg.bank_fraction,
                                   cfg.lookup_placement == "gpu", cfg.num_gpus,
                                   cfg.kv_block_tokens, cfg.bank_entry_overhead_bytes)
        self.stages = stage_of_blocks(self.plan, cfg.num_gpus)
        self.cpu_cost = None if cfg.lookup_placement != "cpu" else (
            self.cost if cfg.device == "cpu" else build_cost_model(cfg.cost_model, self.spec, "cpu"))

    def labels(self) -> dict:
        return {"cost_model": self.cost.label, "skip_model": self.skip_model.label,
                "policy": self.cfg.policy, "checkpoints": str(self.plan),
                "model": self.spec.name, "device": self.cfg.device,
                "kv_policy": self.cfg.kv_policy, "lookup_placement": self.cfg.lookup_placement}

    def router(self, rng: np.random.Generator, on_cpu: bool) -> Router:
        entries, hidden = self.memory.bank_entries_per_checkpoint, self.spec.hidden_size
        if on_cpu:
            link = host_link_bytes_per_s(self.cfg.device)
            # each query's hidden state goes down, its decision (8 bytes) comes back
            lookup = (lambda e, q: self.cpu_cost.lookup_time_s(e, q)
                      + q * (hidden * self.spec.dtype_bytes + 8) / link)
        else:
            lookup = self.cost.lookup_time_s
        if self.skip_model.router_reads_lm_head:  # CALM-style: the LM head at each checkpoint
            bank_lookup = lookup
            lookup = lambda e, q: bank_lookup(e, q) + self.cost.lm_head_time_s(q)  # noqa: E731
        macs = skip_action(self.skip_model.skip_action).macs_per_token(hidden)
        return Router(self.plan, self.skip_model, self.kv_policy, lookup,
                      self.cost.kv_projection_time_s, entries, rng,
                      action_time_s=lambda n: self.cost.skip_action_time_s(n, macs))


def _device_memory(device: str) -> int:
    try:
        return device_spec(device).memory_bytes
    except UserError:
        raise UserError(f"device {device!r} has no known memory size: pass --gpu-memory") from None


def simulate(trace: Trace, cfg: SimConfig, timeline: bool = False, progress=None,
             setup: Setup | None = None) -> SimResult:
    setup = setup or Setup(cfg)
    if len(trace) == 0:
        raise UserError("the trace holds no requests")
    kv = PagedKVCache(setup.memory.kv_capacity_blocks, cfg.kv_block_tokens, len(trace))
    longest = int(np.max(trace.prompt_tokens + trace.output_tokens))
    if kv.blocks_for(longest) > kv.capacity_blocks:
        raise UserError(f"a request of {longest} tokens does not fit the KV cache "
                        f"({setup.memory.kv_capacity_tokens} tokens): raise --gpu-memory "
                        "or lower --bank-fraction")
    table = RequestTable(trace, setup.plan.num_blocks + 1)
    rng = np.random.default_rng([cfg.seed, 3])  # the routers' stream
    on_cpu = cfg.lookup_placement == "cpu"
    engine = Engine(table, setup.plan, cfg, setup.cost, setup.scheduler,
                    setup.router(rng, on_cpu=False), setup.router(rng, True) if on_cpu else None,
                    kv, setup.stages, Timeline(cfg.num_gpus) if timeline else None, progress)
    engine.run()
    return SimResult(collect_records(table), engine, setup.memory, setup.labels(),
                     engine.timeline)


def collect_records(t: RequestTable) -> dict:
    generated, output = t.column("generated"), t.column("output")
    ttft = t.first_token_s - t.arrival_s
    e2e = t.finish_s - t.arrival_s
    with np.errstate(invalid="ignore", divide="ignore"):
        tpot = np.where(output > 1, (t.finish_s - t.first_token_s) / (output - 1), np.nan)
    cols = {
        "request_id": t.request_id, "arrival_time_s": t.arrival_s,
        "first_token_time_s": t.first_token_s, "finish_time_s": t.finish_s,
        "prompt_tokens": t.prompt, "output_tokens": generated, "ttft_s": ttft,
        "tpot_s": tpot, "e2e_s": e2e, "layers_executed": t.column("layers_executed"),
        "layers_skipped": t.column("layers_skipped"), "lookups": t.lookups,
        "lookup_time_s": t.lookup_time_s, "hits": t.hits, "exits": t.column("exits"),
        "preemptions": t.preemptions,
        "expected_agreement": t.column("agree_sum") / generated,
    }
    assert list(cols) == list(RECORD_COLUMNS)
    return cols


def estimate_capacity(trace: Trace, cfg: SimConfig, max_requests: int = 300,
                      setup: Setup | None = None) -> float:
    """Requests/s this configuration sustains at saturation: the first
    `max_requests` requests all arrive at t = 0 and capacity = completed /
    makespan, as vLLM's offline throughput benchmark measures it (the drain
    at the end makes it slightly conservative)."""
    n = min(len(trace), max_requests)
    result = simulate(trace.head(n, np.zeros(n)), cfg, setup=setup)
    return n / float(np.max(result.records["finish_time_s"]))
