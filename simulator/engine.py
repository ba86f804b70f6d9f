"""The served system as SimPy processes: arrivals, one process per GPU, and
the CPU lookup service when banks live on the host.

A GPU step is one batched block execution (never a per-token event): the
GPU admits waiting requests (stage 0 only, continuous batching, as the
`Admission` policy says), asks the scheduler for a queue and a batch, holds
for the cost model's time of that block (+ in-line lookups, K/V-hole work,
LM head), then moves every token of the batch on: to the next queue,
through the router step, or out as a token.
Same-time ordering follows `events.py`. Every decision (admission, batch,
preemption victim, KV-hole cost and repair debt) is a `policies/` object the
real executor calls too; this file only keeps the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import simpy

from policies.admission import Admission
from policies.kv_hole import RepairDebt
from policies.preemption import PreemptionPolicy
from policies.schedulers.base import QueueView, Scheduler, StepState
from profiler.cost_model import BatchShape, CostModel
from simulator.events import hold, settle
from simulator.lifecycle import RequestLifecycle
from simulator.record_sink import KeepInMemory
from simulator.records import RunStats
from simulator.router_step import Routed, RouterStep
from simulator.state import RequestTable
from skipsim.kv_pages import PagedKVCache

NAN = float("nan")
# logged lookups folded into the per-request totals past this many token
# lookups (~8 MB of int64 ids: bounded memory on long traces; np.add.at adds
# in log order, so folding in chunks gives the same float sums as one fold at the end)
LOG_FOLD_LOOKUPS = 1_000_000


@dataclass(slots=True)  # one per step: slots make it cheaper to build and read
class Step:
    gpu: int
    block: int  # == num_blocks: LM-head-only step; -1: KV repair
    ids: np.ndarray
    start_s: float
    duration_s: float
    tokens: int = 0
    prefill: np.ndarray | None = None  # mask over ids
    routed: Routed | None = None
    parts: dict = field(default_factory=dict)  # seconds by kind, for the timeline


class Engine(RequestLifecycle):
    def __init__(self, table: RequestTable, plan, cfg, cost: CostModel, scheduler: Scheduler,
                 admission: Admission, preemption: PreemptionPolicy,
                 router: RouterStep, cpu_router: RouterStep | None, kv: PagedKVCache,
                 stages: list[int], timeline=None, progress=None, sink=None):
        self.env = simpy.Environment()
        self.t, self.plan, self.cfg, self.cost = table, plan, cfg, cost
        self.scheduler, self.router, self.cpu_router = scheduler, router, cpu_router
        self.admission, self.preemption = admission, preemption
        self.kv, self.timeline, self.progress = kv, timeline, progress
        self.sink = sink or KeepInMemory()  # told of each request as it finishes
        self.k = plan.num_blocks
        self.block_sizes = plan.block_sizes
        self.queue_gpu = list(stages) + [stages[-1]]  # the LM-head queue sits with the last block
        self.gpu_queues = [[q for q, s in enumerate(self.queue_gpu) if s == g]
                           for g in range(cfg.num_gpus)]
        # an empty bank cannot hit: no lookups at all (Setup says so)
        self.routing = scheduler.uses_router and self.k > 1 and router.has_entries
        self.chunk_limit = cfg.prefill_chunk_tokens if cfg.chunked_prefill else None
        self.cpu = simpy.Resource(self.env, capacity=1) if cpu_router else None
        self.wake: list = [None] * cfg.num_gpus
        self.last_block: list = [None] * cfg.num_gpus
        self.busy_s = [0.0] * cfg.num_gpus
        self.pending_gpu_s = [0.0] * cfg.num_gpus  # K/V projections owed after CPU lookups
        self.repair_debt = RepairDebt()  # spans keyed by their layer count
        self.lookup_log: list = []  # (request indices, seconds) per lookup batch
        self.hit_log: list = []  # request indices per batch of hits
        self.logged_lookups = 0  # token lookups in lookup_log
        self.lookup_busy_s = 0.0
        self.steps = self.token_block_executions = 0
        self.running = self.finished = self.admitted = 0
        self.refused = None  # (head, free blocks, running) the admission policy last refused
        self.all_done = self.env.event()
        self.arrival = table.arrival_s.tolist()

    # ------------------------------------------------------------ processes
    def arrivals(self):
        """Requests arrive at their trace times and join the waiting line."""
        env, t = self.env, self.t
        for i, at_s in enumerate(t.arrival_s.tolist()):
            if at_s > env.now:
                yield env.timeout(at_s - env.now)
            t.waiting.append(i)
            self._notify(0)

    def gpu(self, g: int):
        """One GPU: admit, let the scheduler pick a batch, run it, move its tokens on."""
        env = self.env
        while True:
            if env.peek() == env.now:  # something else is due now: let it run first
                yield settle(env)
            if g == 0:
                self._admit()
            step = self._next_step(g)
            if step is None:
                self.wake[g] = env.event()
                yield self.wake[g]
                continue
            yield from hold(env, step.duration_s)
            self._finish(step)

    def cpu_lookup(self, ids: np.ndarray, at: int):
        """Hidden states go to the host, are looked up in the banks there
        (queueing for the CPU), and the decisions come back; the GPU is free
        meanwhile."""
        with self.cpu.request() as req:
            yield req
            start = self.env.now
            routed = self.cpu_router.route(at, ids, *self._token_keys(ids))
            yield self.env.timeout(routed.total_lookup_s)
        self.lookup_busy_s += routed.total_lookup_s
        if self.timeline:
            self.timeline.slice(self.timeline.cpu_track, f"lookup @{at}", start,
                                routed.total_lookup_s, members=ids, queries=len(ids))
        self.pending_gpu_s[self.queue_gpu[min(at, self.k - 1)]] += routed.kv_time_s
        self._apply_route(routed, lm_head_done=False)
        self._notify_all()

    def run(self) -> None:
        self.env.process(self.arrivals())
        for g in range(self.cfg.num_gpus):
            self.env.process(self.gpu(g))
        self.env.run(until=self.all_done)
        self.flush_logs()

    # ------------------------------------------------------------ decisions
    def _notify(self, g: int) -> None:
        ev = self.wake[g]
        if ev is not None and not ev.triggered:
            ev.succeed()

    def _notify_all(self) -> None:
        for g in range(self.cfg.num_gpus):
            self._notify(g)

    def _admit(self) -> None:
        """Continuous batching: admit the head of the waiting line while the
        admission policy says so (a batch slot and its prefill's KV free)."""
        t, kv, admits = self.t, self.kv, self.admission.admits
        while t.waiting:
            i = t.waiting[0]
            # the policy is pure: the head refused at the same free blocks and
            # running count is refused again (asked every step while a line waits)
            asked = (i, kv.free_blocks, self.running)
            if asked == self.refused or not admits(kv.blocks_for(t.prefill_target[i]),
                                                   kv.free_blocks, self.running):
                self.refused = asked
                break
            t.waiting.popleft()
            self.refused = None  # (a preempted request may come back with a longer prefill)
            kv.allocate(i, int(t.prefill_target[i]), self.env.now)
            t.admit(i, self.admitted, self.chunk_limit)
            self.admitted += 1
            self.running += 1

    def _views(self, g: int) -> list[QueueView]:
        queues, arrival = self.t.queues, self.arrival
        # live read-only views: no copy of the queue per step
        if self.scheduler.reads_arrival:
            return [QueueView(q, *m.member_views(), arrival[m.min_id()], m.total_tokens)
                    for q in self.gpu_queues[g] if (m := queues[q])]
        return [QueueView(q, *m.member_views(), NAN, m.total_tokens)
                for q in self.gpu_queues[g] if (m := queues[q])]

    def _next_step(self, g: int) -> Step | None:
        views = self._views(g)
        if g == 0 and self.repair_debt.due(self.cfg.repair_batch_tokens, idle=not views):
            return self._repair_step(g)
        state = StepState(self.env.now, self.k, self.last_block[g], self.cfg.max_num_seqs,
                          self.cfg.max_batched_tokens)
        sel = self.scheduler.select(views, state)
        if sel is None:
            return None
        self.last_block[g] = sel.block
        members, chosen = self.t.queues[sel.block], sel.request_ids
        decode_only = members.decode_only
        if len(chosen) == len(members):  # the whole queue, as one array
            ids = members.take_all()
        else:
            ids = np.fromiter(chosen, np.int64, len(chosen))
            for i in chosen:
                del members[i]
        return self._block_step(g, sel.block, ids, decode_only)

    def _token_keys(self, ids: np.ndarray):
        """(request ids, decode-pass indices) of tokens, as skip models read them."""
        if not self.router.skip_model.uses_request_ids:
            return ids, ids
        return self.t.request_id[ids], self.t.generated[ids] - 1

    def _block_step(self, g: int, j: int, ids: np.ndarray, decode_only: bool) -> Step:
        t, cost, k = self.t, self.cost, self.k
        step = Step(g, j, ids, self.env.now, 0.0)
        parts = step.parts
        parts["overhead"] = cost.step_overhead_s
        if j == k:  # tokens that exited after a CPU lookup: LM head only
            parts["lm_head"] = cost.lm_head_time_s(len(ids))
        else:
            logits, chunks, dec, prefill_tokens = 0, (), ids, 0
            # a running request is in `prefilling` exactly while prefilled < prefill_target:
            # the set's members among the batch, read in bulk (none in a queue of decode passes)
            mask = (t.prefilled[ids] < t.prefill_target[ids]
                    if t.prefilling and not decode_only else None)
            pre = ids[mask] if mask is not None else ()
            if len(pre):
                step.prefill = mask
                size, cached = t.chunk[pre], t.prefilled[pre]
                chunks = tuple(zip(size.tolist(), cached.tolist()))
                prefill_tokens = int(size.sum())
                dec = ids[~step.prefill]
                if j + 1 == k:
                    logits = int(np.count_nonzero(size + cached >= t.prefill_target[pre]))
            batch = BatchShape(chunks, t.ctx[dec])
            step.tokens = prefill_tokens + len(dec)
            parts["block"] = cost.block_time_s(self.block_sizes[j], batch)
            if j + 1 == k:
                logits += len(dec)
            elif len(dec) and self.routing and self.cpu_router is None:
                step.routed = self.router.route(j + 1, dec, *self._token_keys(dec))
                parts["lookup"] = step.routed.total_lookup_s
                parts["kv_hole"] = step.routed.kv_time_s
                logits = step.routed.exited
            parts["lm_head"] = cost.lm_head_time_s(logits)
            if self.pending_gpu_s[g]:
                parts["kv_hole"] = parts.get("kv_hole", 0.0) + self.pending_gpu_s[g]
                self.pending_gpu_s[g] = 0.0
        step.duration_s = sum(parts.values())
        return step

    def _repair_step(self, g: int) -> Step:
        """`repair`: recompute the skipped layers of the owed tokens, batched
        by skipped span (tokens of requests preempted or finished since are dropped)."""
        t = self.t
        step = Step(g, -1, np.zeros(0, np.int64), self.env.now, 0.0)
        step.parts["overhead"] = self.cost.step_overhead_s
        step.parts["repair"] = 0.0
        repair_time_s = self.router.kv_policy.repair_time_s
        for layers, ids, _ in self.repair_debt.settle(t.running, t.admit_seq):
            ctx = t.ctx[ids].tolist()  # prompt + generated
            step.parts["repair"] += repair_time_s(self.cost, layers, ctx)
            step.tokens += len(ids)
        step.duration_s = sum(step.parts.values())
        return step

    # ------------------------------------------------------------ outcomes
    def _finish(self, step: Step) -> None:
        t, k = self.t, self.k
        self.busy_s[step.gpu] += step.duration_s
        self.steps += 1
        if self.timeline:
            name = {k: "LM head", -1: "KV repair"}.get(step.block, f"block {step.block}")
            self.timeline.slice(step.gpu, name, step.start_s, step.duration_s,
                                members=step.ids, requests=len(step.ids), tokens=step.tokens,
                                **{f"{key}_ms": v * 1e3 for key, v in step.parts.items()})
        if step.block < 0:
            return
        ids, j = step.ids, step.block
        if j == k:
            self._emit(ids, from_prefill=False)
            return
        self.token_block_executions += step.tokens
        if step.prefill is not None:
            self._move_prefill(ids[step.prefill], j)
            dec = ids[~step.prefill]
        else:
            dec = ids
        if len(dec):
            if j + 1 == k:
                self._emit(dec, from_prefill=False)
            elif not self.routing:
                t.queues[j + 1].extend(dec)
            elif step.routed is not None:
                self.lookup_busy_s += step.routed.total_lookup_s
                self._apply_route(step.routed, lm_head_done=True)
            else:
                self.env.process(self.cpu_lookup(dec, j + 1))
        if self.cfg.num_gpus > 1:
            self._notify_all()

    def _move_prefill(self, pre: np.ndarray, j: int) -> None:
        """Prefill chunks run full depth; after the last block a finished
        prefill yields the first token, an unfinished one sends its next chunk."""
        t = self.t
        if j + 1 < self.k:  # a pass's size is its chunk
            t.queues[j + 1].extend(pre, t.chunk[pre])
            return
        t.prefilled[pre] += t.chunk[pre]
        done = t.prefilled[pre] >= t.prefill_target[pre]
        for i in pre[~done].tolist():
            t.start_prefill_pass(i, self.chunk_limit)
        if done.any():
            t.prefilling.difference_update(pre[done].tolist())
            self._emit(pre[done], from_prefill=True)

    def _apply_route(self, r: Routed, lm_head_done: bool) -> None:
        """Apply a routed batch in bulk: log its lookups and hits, fold each
        hit into its token's pass accumulators (round by round, so every
        token's products keep their order), queue every token where it
        landed (in batch order) and emit or queue the exits."""
        t, k, ids = self.t, self.k, r.ids
        for _, pos, seconds in r.rounds:  # per-request lookup counts: applied at the end
            chosen = ids if pos is None else ids[pos]
            self.lookup_log.append((chosen, seconds))
            self.logged_lookups += len(chosen)
        if self.logged_lookups > LOG_FOLD_LOOKUPS:  # hits never outnumber lookups
            self.flush_logs()
        for pos, layers, keep in r.hits:
            chosen = ids[pos]  # a token hits at most once per checkpoint: no repeats
            self.hit_log.append(chosen)
            t.pass_skipped[chosen] += layers
            t.pass_agree[chosen] *= keep
        for span_ids, layers in r.repair:
            self.repair_debt.owe(layers, span_ids, t.admit_seq[span_ids])
        queues = t.queues
        if r.final_at is None:  # nobody skipped: everyone runs the next block
            queues[r.start].extend(ids)
            return
        final = r.final_at
        for at in r.landings:  # queues are distinct: the order of landings does not matter
            if at != k:
                queues[at].extend(ids[final == at])
        if r.exited:
            exited = ids[final == k]
            t.exits[exited] += 1
            if lm_head_done:
                self._emit(exited, from_prefill=False)
            else:
                queues[k].extend(exited)

    def check_integrity(self) -> None:
        """The invariants the bulk updates rely on, besides the table's and the
        cache's own: a running request holds exactly the KV blocks of its
        context (so only a token starting a block grows it), and it is in
        `prefilling` exactly while prefilled < prefill_target."""
        t, kv = self.t, self.kv
        t.check_integrity()
        kv.check_integrity()
        running = t.running.nonzero()[0]
        held = np.array([kv.held[i] for i in running.tolist()], np.int64)
        assert np.array_equal(held, -(-t.ctx[running] // kv.block_tokens)), \
            "a running request's KV blocks differ from its context's"
        prefilling = running[t.prefilled[running] < t.prefill_target[running]]
        assert set(prefilling.tolist()) == t.prefilling, "prefilling set and counts disagree"

    def run_stats(self) -> RunStats:
        """The run's totals beside the records (call once, after `run`)."""
        end_s = float(self.env.now)
        return RunStats(end_s, self.steps, self.token_block_executions, tuple(self.busy_s),
                        self.lookup_busy_s, self.kv.mean_utilisation(end_s),
                        self.kv.peak_used / self.kv.capacity_blocks,
                        self.cfg.num_gpus if self.cpu_router is None else 1,
                        int(getattr(self.cost, "outside_grid_steps", 0)))

    def flush_logs(self) -> None:
        """Fold the logged lookups and hits into the per-request totals."""
        t = self.t
        if self.lookup_log:
            # the logged arrays in log order (np.add.at adds in that order)
            counts = [len(c) for c, _ in self.lookup_log]
            chosen = np.concatenate([c for c, _ in self.lookup_log])
            seconds = np.repeat([s for _, s in self.lookup_log], counts)
            t.lookups += np.bincount(chosen, minlength=t.n)  # integer counts: exact
            np.add.at(t.lookup_time_s, chosen, seconds)
        if self.hit_log:
            t.hits += np.bincount(np.concatenate(self.hit_log), minlength=t.n)
        self.lookup_log, self.hit_log, self.logged_lookups = [], [], 0
