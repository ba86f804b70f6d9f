"""The serving loop, on the wall clock.

Requests are released at their trace arrival times (seconds since the loop
started). Every step: release arrivals, admit (continuous batching, the
simulator's admission rule), let the scheduler pick a virtual queue and a
batch (`policies/schedulers`, the same objects as `simulate run`), run it:

- prefill passes run full depth (no skipping) but block by block, as the
  simulator moves them (DESIGN: a request waits in the queue of the block
  its tokens run next): a chunk's tokens sit in queue j with the chunk's
  size, run block j as one batched `runner.prefill_layers` beside the decode
  tokens of that step, and wait in queue j + 1 with their states; after the
  last block a finished prefill emits the request's next token;
- decode passes in the batch run block j as one batched
  `runner.decode_layers` over the block's layers; at the next checkpoint the
  skip mode decides for all of them at once (one batched bank lookup); a
  token that skips has its KV holes filled by the KV-hole policy and is
  looked up again where it lands; exits and tokens leaving the last block
  go through the LM head in the same step and emit.

Emitting a token grows the request's KV pages; a full cache preempts the
latest-admitted queued request (recompute), as in the simulator. Requests
generate exactly the trace's output token count (EOS ignored). Accuracy is
measured against the full model's greedy tokens (`refs`): teacher-forced by
default (every decode input is the full model's token), free-running on
request. The engine keeps the simulator's `RequestTable`, so the records
are the same columns with the same meaning (measured agreement in
`expected_agreement`). What happens at checkpoints is in `routing.py`, a
request's token, growth and preemption in `lifecycle.py` (mixins).
"""

from __future__ import annotations

import time

import numpy as np

from executor.kv_account import KVAccount
from executor.lifecycle import Lifecycle
from executor.routing import Routing
from executor.step_log import STEP, StepLog
from policies.kv_hole import RepairDebt
from policies.schedulers.base import QueueView, StepState
from profiler.cost_model import BatchShape
from simulator.records import RunStats
from simulator.state import RequestTable

NAN = float("nan")


class Executor(Routing, Lifecycle):
    def __init__(self, trace, prompts: list[list[int]], refs: list[list[int]], runner, setup,
                 cfg, skip_mode, progress=None, timeline=None, clock=time.perf_counter,
                 sleep=time.sleep):
        import torch

        self.torch = torch
        self.trace, self.prompts, self.refs, self.runner = trace, prompts, refs, runner
        self.setup, self.cfg, self.sim = setup, cfg, cfg.sim
        self.plan, self.cost = setup.plan, setup.cost
        self.scheduler, self.kv_policy = setup.scheduler, setup.kv_policy
        self.admission, self.preemption = setup.admission, setup.preemption
        self.skip = skip_mode
        self.k = self.plan.num_blocks
        self.bounds = tuple(self.plan.boundaries)
        self.L = self.plan.num_layers
        self.routing = self.scheduler.uses_router and self.k > 1 and skip_mode.name != "no-skip"
        self.t = RequestTable(trace, self.k + 1)
        self.tokens: list[list[int]] = [[] for _ in range(len(trace))]
        self.chunk_limit = self.sim.prefill_chunk_tokens if self.sim.chunked_prefill else None
        self.kv = KVAccount(runner)
        n, d = len(trace), runner.hidden_size
        self.h = torch.zeros(n, d, dtype=runner.dtype, device=runner.device)
        self.prev = torch.zeros(n, d, dtype=runner.dtype, device=runner.device) \
            if skip_mode.needs_prev_state else None
        # context routers (gbt, mlp) also read the input of the layer before that
        # and each request's running quantities, dropped when it finishes or is preempted
        self.prev2, self.context = None, None
        if skip_mode.needs_context:
            from policies.routers.live_context import LiveContext

            self.prev2 = torch.zeros(n, d, dtype=runner.dtype, device=runner.device)
            self.context = LiveContext()
        self.progress, self.timeline = progress, timeline
        self.clock, self.sleep = clock, sleep
        self.log = StepLog()
        self.decisions: list[tuple] = []  # (request_id, token_index, at, landing, p_change)
        self.repair_debt = RepairDebt()  # spans keyed by their layer range (lo, hi)
        self.repair_states: dict = {}  # (request, position, lo) -> state entering layer lo
        self.prefill_h: dict = {}  # request -> its chunk's states between prefill blocks
        self.running = self.finished = self.admitted = 0
        self.busy_s = self.lookup_busy_s = 0.0
        self.steps = self.token_block_executions = 0
        self.last_block = None
        self.interrupted = False
        self.bank_entries = getattr(skip_mode, "bank_entries", 0)
        self.check = cfg.check_integrity

    # ------------------------------------------------------------ the loop
    def run(self) -> RunStats:
        t, n = self.t, self.t.n
        arrival = t.arrival_s.tolist()
        nxt = 0
        self.t0 = self.clock()
        try:
            while self.finished < n:
                now = self.now()
                while nxt < n and arrival[nxt] <= now:
                    t.waiting.append(nxt)
                    nxt += 1
                self._admit()
                if self._step():
                    self._log_step(now)
                    continue
                if self.repair_debt.tokens:
                    self._repair()
                    self._log_step(now)
                elif nxt < n:
                    self.sleep(max(0.0, arrival[nxt] - self.now()))
                elif self.finished < n:
                    raise RuntimeError("the executor stalled: requests left but nothing to run")
        except KeyboardInterrupt:
            self.interrupted = True
        end = self.now()
        return RunStats(end, self.steps, self.token_block_executions, (self.busy_s,),
                        self.lookup_busy_s, self.kv.mean_utilisation(end),
                        self.kv.peak_used / self.kv.capacity_blocks)

    def _log_step(self, turn_s: float) -> None:
        """The whole step's row: from the loop's turn to now (see step_log)."""
        self.log.add(self.steps, STEP, -1, turn_s, self.now(), 0, 0, 0, 0,
                     self.cost.step_overhead_s)

    def now(self) -> float:
        return self.clock() - self.t0

    def _sync(self) -> None:
        if self.runner.device.type == "cuda":
            self.torch.cuda.synchronize()

    # ------------------------------------------------------------ admission
    def _admit(self) -> None:
        """Continuous batching: admit waiting requests in order while the
        admission policy says so (the simulator's object: a slot, and the
        prefill's pages free above the watermark)."""
        t, kv = self.t, self.kv
        while t.waiting:
            i = t.waiting[0]
            if not self.admission.admits(kv.blocks_for(t.prefill_target[i]), kv.free_blocks,
                                         self.running):
                break
            t.waiting.popleft()
            ok = self.runner.allocate(i, int(t.prefill_target[i]))
            assert ok, "admission checked the free pages"
            t.admit(i, self.admitted, self.chunk_limit)
            self.admitted += 1
            self.running += 1

    # ------------------------------------------------------------ one step
    def _step(self) -> bool:
        t = self.t
        arrival = self.scheduler.reads_arrival
        views = [QueueView(q, tuple(m.keys()), tuple(m.values()),
                           min(t.arrival_s[i] for i in m) if arrival else NAN)
                 for q, m in enumerate(t.queues) if m]
        if self.repair_debt.due(self.sim.repair_batch_tokens, idle=not views):
            self._repair()
            return True
        state = StepState(self.now(), self.k, self.last_block, self.sim.max_num_seqs,
                          self.sim.max_batched_tokens)
        sel = self.scheduler.select(views, state)
        if sel is None:
            return False
        self.last_block = sel.block
        for i in sel.request_ids:
            del t.queues[sel.block][i]
        start = self.now()
        self.steps += 1
        pre = [i for i in sel.request_ids if i in t.prefilling]
        dec = [i for i in sel.request_ids if i not in t.prefilling]
        emit_ids, emit_h, from_prefill = [], [], []
        h = self._prefill(pre, sel.block) if pre else None
        if h is not None:  # the last block: the chunks' last states
            done = [m for m, i in enumerate(pre) if t.prefilled[i] >= t.prefill_target[i]]
            for _m, i in enumerate(pre):
                if t.prefilled[i] < t.prefill_target[i]:
                    t.start_prefill_pass(i, self.chunk_limit)
            if done:
                t.prefilling.difference_update(pre[m] for m in done)
                emit_ids += [pre[m] for m in done]
                emit_h.append(h[done])
                from_prefill += [True] * len(done)
        if dec:
            out = self._decode_block(sel.block, dec)
            if out:
                emit_ids += out
                emit_h.append(self.h[self._idx(out)])
                from_prefill += [False] * len(out)
        if emit_ids:
            self._lm_head_and_emit(emit_ids, self.torch.cat(emit_h), from_prefill)
        self._sync()
        end = self.now()
        self.busy_s += end - start
        self.kv.sample(end)
        if self.timeline is not None:
            name = f"block {sel.block}" if dec else "prefill"
            self.timeline.slice(0, name, start, end - start, requests=len(sel.request_ids),
                                prefill=len(pre))
        if self.check:
            self.check_integrity()
        return True

    def _idx(self, ids):
        return self.torch.as_tensor(ids, dtype=self.torch.long, device=self.runner.device)

    def _context(self, i: int) -> list[int]:
        """Prompt + generated tokens (the full model's in teacher-forced runs)."""
        g = self.t.generated[i]
        src = self.tokens[i] if self.cfg.free_running else self.refs[i]
        return self.prompts[i] + list(src[:g])

    def _prefill(self, pre: list[int], j: int):
        """Block j of these prefill chunks. Returns their last positions'
        states after the last block; before it, None (the chunks wait in
        queue j + 1 with their states)."""
        t, t0 = self.t, self.now()
        lo, hi = self.bounds[j], self.bounds[j + 1]
        starts = [int(t.prefilled[i]) for i in pre]
        chunks = [int(t.chunk[i]) for i in pre]
        ids = [self.torch.tensor(self._context(i)[s:s + c]) for i, s, c in zip(pre, starts, chunks)]
        h_in = None if j == 0 else self.torch.cat([self.prefill_h.pop(i) for i in pre])
        h = self.runner.prefill_layers(pre, ids, starts, lo, hi, h_in)
        self._sync()
        shape = BatchShape(tuple(zip(chunks, starts)), ())
        self.token_block_executions += shape.tokens
        self.log.add(self.steps, "prefill", j, t0, self.now(), len(pre), shape.tokens,
                     sum(s + c for s, c in zip(starts, chunks)), 0,
                     self.cost.block_time_s(hi - lo, shape), hi - lo,
                     shape.prefill_attention_pairs)
        if j + 1 < self.k:
            self.prefill_h.update(zip(pre, h.split(chunks)))
            t.queues[j + 1].update(zip(pre, chunks))
            return None
        for i, c in zip(pre, chunks):
            t.prefilled[i] += c
        return h[self._idx(chunks).cumsum(0) - 1]

    def _decode_block(self, j: int, dec: list[int]) -> list[int]:
        """Run block j for decode passes; route them on. Returns the requests
        whose token is ready for the LM head (left the last block or exited)."""
        t, runner = self.t, self.runner
        lo, hi = self.bounds[j], self.bounds[j + 1]
        idx = self._idx(dec)
        positions = [t.ctx[i] - 1 for i in dec]
        pos_t = self._idx(positions)
        t0 = self.now()
        if j == 0:
            src = self.tokens if self.cfg.free_running else self.refs
            inputs = self._idx([src[i][t.generated[i] - 1] for i in dec])
            h = runner.embed(inputs)
            if self.prev2 is not None:  # a one-layer first block reads the embedding twice
                self.prev[idx] = h
        else:
            h = self.h[idx]
        route_next = self.routing and j + 1 < self.k
        if route_next and self.prev is not None:
            h = self._decode_keeping_inputs(h, dec, idx, pos_t, lo, hi)
        else:
            h = runner.decode_layers(h, dec, pos_t, lo, hi)
        self.h[idx] = h
        self._sync()
        ctx = tuple(t.ctx[i] for i in dec)
        shape = BatchShape((), ctx)
        self.token_block_executions += len(dec)
        self.log.add(self.steps, "block", j, t0, self.now(), len(dec), len(dec), sum(ctx), 0,
                     self.cost.block_time_s(hi - lo, shape), hi - lo)
        if j + 1 == self.k:
            return dec
        if not route_next:
            t.queues[j + 1].update(dict.fromkeys(dec, 1))
            return []
        return self._route(j + 1, dec)

    def _decode_keeping_inputs(self, h, dec, idx, pos_t, lo, hi):
        """Layers lo..hi-1, keeping the inputs of the last one (`prev`) or two
        (`prev2` too) for the router: each layer run shifts them, so a block
        shorter than that keeps the inputs of the layers before it (the last
        the token ran), as the live calibration does."""
        runner, keep = self.runner, 1 if self.prev2 is None else 2
        split = max(lo, hi - keep)
        if split > lo:
            h = runner.decode_layers(h, dec, pos_t, lo, split)
        for layer in range(split, hi):
            if self.prev2 is not None:
                self.prev2[idx] = self.prev[idx]
            self.prev[idx] = h
            h = runner.decode_layers(h, dec, pos_t, layer, layer + 1)
        return h

    # ------------------------------------------------------------ checks
    def check_integrity(self) -> None:
        self.t.check_integrity()
        self.runner.check_integrity()
        self.repair_debt.check_integrity()
        assert self.running == int(self.t.running.sum()), "running count drifted"
        for i, h in self.prefill_h.items():  # a prefill between blocks waits in a queue
            assert i in self.t.prefilling and any(i in q for q in self.t.queues[1:]), \
                "a prefill's states outlived its pass"
            assert len(h) == self.t.chunk[i], "a prefill's states are not its chunk's"
        for i, toks in enumerate(self.tokens):
            assert len(toks) >= self.t.generated[i], "a generated token was lost"
        if self.context is not None:
            assert self.context.held() <= set(np.flatnonzero(self.t.running).tolist()), \
                "a finished or preempted request's routing context was kept"
