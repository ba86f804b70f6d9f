"""One simulation from a trace and a `SimConfig`: resolve the names, split
the memory, check the run is possible, run the engine, collect results.

`estimate_capacity` is the saturation probe: the same configuration with
every request arriving at t = 0, an upper bound on the rate it sustains
(`default_rate.py` starts its search for the default rate from it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from policies.actions.base import skip_action
from policies.admission import WatermarkAdmission
from policies.checkpoint_plan import CheckpointPlan
from policies.kv_hole import kv_hole_policy
from policies.memory_split import MemorySplit, memory_split, stage_of_blocks
from policies.preemption import LatestAdmitted
from policies.schedulers import make_scheduler
from profiler.devices import device_spec
from simulator.components import build_cost_model, build_skip_model, host_link_bytes_per_s
from simulator.config import DEFAULT_CHECKPOINTS, DEFAULT_CHECKPOINTS_LAYERS, SimConfig
from simulator.engine import Engine
from simulator.record_sink import KeepInMemory, RecordSink
from simulator.records import RECORD_COLUMNS, RunStats
from simulator.router_step import RouterStep
from simulator.state import RequestTable
from simulator.timeline import Timeline, sample_requests
from simulator.uniform_stream import UniformStream
from skipsim.errors import UserError
from skipsim.kv_pages import PagedKVCache
from skipsim.model_spec import model_spec
from traces.trace import Trace


@dataclass
class SimResult:
    records: dict  # RECORD_COLUMNS -> arrays
    stats: RunStats
    engine: Engine  # its internals, for tests
    memory: MemorySplit
    labels: dict  # cost_model, skip_model, device, policy ...
    timeline: Timeline | None
    records_path: Path | None = None  # where the sink streamed the records, if it did


class Setup:
    """Every object a run needs, resolved and checked once."""

    def __init__(self, cfg: SimConfig):
        self.cfg = cfg
        self.notes: list[str] = []  # printed with the results
        self.spec = model_spec(cfg.model)
        self.plan = self._plan()
        self.scheduler = make_scheduler(cfg.policy)
        self.kv_policy = kv_hole_policy(cfg.kv_policy)
        self.cost = build_cost_model(cfg.cost_model, self.spec, cfg.device)
        memory_bytes = cfg.gpu_memory_bytes or _device_memory(cfg.device)
        self.memory = memory_split(self.spec, self.plan, memory_bytes, cfg.bank_fraction,
                                   cfg.lookup_placement == "gpu", cfg.num_gpus,
                                   cfg.kv_block_tokens, cfg.bank_entry_overhead_bytes,
                                   cfg.bank_entries)
        routers = self.scheduler.uses_router and self.plan.num_blocks > 1
        if routers and self.memory.bank_entries_per_checkpoint == 0:
            # an empty bank cannot hit: no lookups are made and none are charged
            routers = False
            why = ("the plan's banks are empty" if cfg.bank_entries is not None
                   else f"--bank-fraction {cfg.bank_fraction:g} leaves the banks empty")
            self.notes.append(f"routers off: {why} (no lookups, no skips)")
        self.skip_model = build_skip_model(cfg.skip_model if routers else "no-skip",
                                           self.plan, cfg.skip_options)
        self.notes += self.skip_model.notes(self.plan)
        self.stages = stage_of_blocks(self.plan, cfg.num_gpus)
        self.admission = WatermarkAdmission.from_fraction(
            cfg.max_num_seqs, cfg.kv_watermark_fraction, self.memory.kv_capacity_blocks)
        self.preemption = LatestAdmitted()
        self.cpu_cost = None if cfg.lookup_placement != "cpu" else (
            self.cost if cfg.device == "cpu"
            else build_cost_model(cfg.cost_model, self.spec, "cpu"))

    def _plan(self) -> CheckpointPlan:
        """The checkpoint plan; the default one scaled to the model's depth."""
        layers = self.spec.num_layers
        if self.cfg.checkpoints == DEFAULT_CHECKPOINTS and layers != DEFAULT_CHECKPOINTS_LAYERS:
            plan = CheckpointPlan.parse(DEFAULT_CHECKPOINTS, DEFAULT_CHECKPOINTS_LAYERS)
            plan = plan.scaled(layers)
            self.notes.append(f"checkpoints {DEFAULT_CHECKPOINTS} (the default, for "
                              f"{DEFAULT_CHECKPOINTS_LAYERS} layers) scaled by relative depth "
                              f"to the model's {layers} layers: {plan}")
            return plan
        return CheckpointPlan.parse(self.cfg.checkpoints, layers)

    def labels(self) -> dict:
        return {"cost_model": self.cost.label, "cost_model_source": self.cost.source,
                "cost_model_profile": self.cost.profile_path,
                "skip_model": self.skip_model.label,
                "policy": self.cfg.policy, "checkpoints": str(self.plan),
                "model": self.spec.name, "device": self.cfg.device,
                "kv_policy": self.cfg.kv_policy, "lookup_placement": self.cfg.lookup_placement,
                "notes": list(self.notes)}

    def router(self, rng: np.random.Generator, on_cpu: bool) -> RouterStep:
        entries, hidden = self.memory.bank_entries_per_checkpoint, self.spec.hidden_size
        if self.cfg.bank_entries is not None:  # a plan's bank size per checkpoint
            entries = dict(enumerate(self.cfg.bank_entries, start=1))
        if on_cpu:
            link = host_link_bytes_per_s(self.cfg.device)
            # each query's hidden state goes down, its decision (8 bytes) comes back
            def lookup(e, q):
                return (self.cpu_cost.lookup_time_s(e, q)
                        + q * (hidden * self.spec.dtype_bytes + 8) / link)
        else:
            lookup = self.cost.lookup_time_s
        if self.skip_model.router_reads_lm_head:  # CALM-style: the LM head at each checkpoint
            bank_lookup = lookup
            lookup = lambda e, q: bank_lookup(e, q) + self.cost.lm_head_time_s(q)  # noqa: E731
        macs = skip_action(self.skip_model.skip_action).macs_per_token(hidden)
        # the K/V-hole work runs on the GPU wherever the lookups run; an action
        # without multiply-adds (identity) does no work: nothing to ask per hit
        return RouterStep(self.plan, self.skip_model, self.kv_policy, lookup, self.cost,
                          entries, rng, action_time_s=(
                              lambda n: self.cost.skip_action_time_s(n, macs)) if macs else None)


def _device_memory(device: str) -> int:
    try:
        return device_spec(device).memory_bytes
    except UserError:
        raise UserError(f"device {device!r} has no known memory size: pass --gpu-memory") from None


def simulate(trace: Trace, cfg: SimConfig, timeline: bool = False, progress=None,
             setup: Setup | None = None,
             timeline_window: tuple[float, float] | None = None,
             timeline_sample: int | None = None, sink: RecordSink | None = None) -> SimResult:
    """Run `trace` through the configured system. The records go to `sink`
    (default: kept in memory; `ParquetStream` writes them in chunks during the run)."""
    setup = setup or Setup(cfg)
    sink = sink or KeepInMemory()
    check_trace_fits(trace, setup)
    kv = PagedKVCache(setup.memory.kv_capacity_blocks, cfg.kv_block_tokens, len(trace))
    longest = int(np.max(trace.prompt_tokens + trace.output_tokens))
    table = RequestTable(trace, setup.plan.num_blocks + 1)
    rng = UniformStream(np.random.default_rng([cfg.seed, 3]))  # the routers' stream
    on_cpu = cfg.lookup_placement == "cpu"
    tl = (Timeline(cfg.num_gpus, timeline_window, sample_requests(len(trace), timeline_sample))
          if timeline else None)
    engine = Engine(table, setup.plan, cfg, setup.cost, setup.scheduler, setup.admission,
                    setup.preemption, setup.router(rng, on_cpu=False),
                    setup.router(rng, True) if on_cpu else None,
                    kv, setup.stages, tl, progress, sink)

    def rows(lo: int, hi: int) -> dict:  # lookups still in the engine's logs are folded first
        engine.flush_logs()
        return collect_records(table, lo, hi)

    sink.bind(rows, len(trace))
    setup.cost.start_run(longest)  # counts are per run (probes share the cost model)
    engine.run()
    return SimResult(sink.close(), engine.run_stats(), engine, setup.memory,
                     setup.labels(), engine.timeline, sink.path)


def check_trace_fits(trace: Trace, setup: Setup) -> None:
    """Refuse a trace the served system could not serve, before any work (the
    simulator and the real executor alike): no requests, a request beyond the
    model's context window, or one larger than the whole KV cache."""
    if len(trace) == 0:
        raise UserError("the trace holds no requests")
    _check_context_window(trace, setup.spec)
    longest = int(np.max(trace.prompt_tokens + trace.output_tokens))
    tokens = setup.cfg.kv_block_tokens
    if -(-longest // tokens) > setup.memory.kv_capacity_blocks:
        raise UserError(f"a request of {longest} tokens does not fit the KV cache "
                        f"({setup.memory.kv_capacity_tokens} tokens): raise --gpu-memory "
                        "or lower --bank-fraction")


def _check_context_window(trace: Trace, spec) -> None:
    """Refuse a request the model could not serve: prompt + output beyond its
    context window (vLLM refuses prompt + max_tokens > max_model_len)."""
    window = spec.max_context_tokens
    if window is None:
        return
    total = trace.prompt_tokens + trace.output_tokens
    i = int(np.argmax(total))
    if total[i] > window:
        raise UserError(f"request {int(trace.request_id[i])} needs {int(total[i])} tokens "
                        f"(prompt {int(trace.prompt_tokens[i])} + output "
                        f"{int(trace.output_tokens[i])}), beyond the {window}-token context "
                        f"window of {spec.name}")


def collect_records(t: RequestTable, lo: int = 0, hi: int | None = None) -> dict:
    """The records of rows lo..hi-1 (all rows by default) of a finished run's table."""
    rows = slice(lo, t.n if hi is None else hi)

    generated, output = t.generated[rows], t.output[rows]
    arrival, first, finish = t.arrival_s[rows], t.first_token_s[rows], t.finish_s[rows]
    ttft = first - arrival
    e2e = finish - arrival
    with np.errstate(invalid="ignore", divide="ignore"):
        tpot = np.where(output > 1, (finish - first) / (output - 1), np.nan)
    cols = {
        "request_id": t.request_id[rows], "arrival_time_s": arrival,
        "first_token_time_s": first, "finish_time_s": finish,
        "prompt_tokens": t.prompt[rows], "output_tokens": generated, "ttft_s": ttft,
        "tpot_s": tpot, "e2e_s": e2e, "layers_executed": t.layers_executed[rows],
        "layers_skipped": t.layers_skipped[rows], "lookups": t.lookups[rows],
        "lookup_time_s": t.lookup_time_s[rows], "hits": t.hits[rows], "exits": t.exits[rows],
        "preemptions": t.preemptions[rows],
        "expected_agreement": t.agree_sum[rows] / generated,
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
