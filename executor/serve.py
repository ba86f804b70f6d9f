"""The serving loop, on the wall clock.

Requests are released at their trace arrival times (seconds since the loop
started). Every step: release arrivals, admit (continuous batching, the
simulator's admission rule), let the scheduler pick a virtual queue and a
batch (`policies/schedulers`, the same objects as `simulate run`), run it:

- prefill passes (their chunk tokens sit in queue 0, as in the simulator)
  run full depth in one batched `runner.prefill`; a finished prefill emits
  the request's next token;
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
`expected_agreement`).
"""

from __future__ import annotations

import time
import numpy as np

from executor.kv_account import KVAccount
from executor.step_log import StepLog
from policies.kv_hole import HoleFill, RepairDebt
from policies.schedulers.base import QueueView, StepState
from profiler.cost_model import BatchShape
from simulator.records import RunStats
from simulator.state import RequestTable

NAN = float("nan")
# what the runner does to a skipped layer's K/V rows, per the policy's HolePlan
RUNNER_FILL = {HoleFill.PROJECT: "project", HoleFill.COPY: "copy",
               HoleFill.REPAIR_LATER: "repair", HoleFill.MASK: "none"}


class Executor:
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
        self.progress, self.timeline = progress, timeline
        self.clock, self.sleep = clock, sleep
        self.log = StepLog()
        self.decisions: list[tuple] = []  # (request_id, token_index, at, landing, p_change)
        self.repair_debt = RepairDebt()  # spans keyed by their layer range (lo, hi)
        self.repair_states: dict = {}  # (request, position, lo) -> state entering layer lo
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
                    continue
                if self.repair_debt.tokens:
                    self._repair()
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
        if pre:
            h = self._prefill(pre)
            done = [m for m, i in enumerate(pre) if t.prefilled[i] >= t.prefill_target[i]]
            for m, i in enumerate(pre):
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

    def _prefill(self, pre: list[int]):
        t, t0 = self.t, self.now()
        starts = [int(t.prefilled[i]) for i in pre]
        chunks = [t.chunk[i] for i in pre]
        ids = [self.torch.tensor(self._context(i)[s:s + c]) for i, s, c in zip(pre, starts, chunks)]
        h = self.runner.prefill(pre, ids, starts)
        for i, c in zip(pre, chunks):
            t.prefilled[i] += c
        self._sync()
        shape = BatchShape(tuple(zip(chunks, starts)), ())
        self.token_block_executions += shape.tokens * self.k
        self.log.add(self.steps, "prefill", -1, t0, self.now(), len(pre), shape.tokens,
                     sum(s + c for s, c in zip(starts, chunks)), 0,
                     self.cost.step_overhead_s + self.cost.block_time_s(self.L, shape))
        return h

    def _decode_block(self, j: int, dec: list[int]) -> list[int]:
        """Run block j for decode passes; route them on. Returns the requests
        whose token is ready for the LM head (left the last block or exited)."""
        t, runner, torch = self.t, self.runner, self.torch
        lo, hi = self.bounds[j], self.bounds[j + 1]
        idx = self._idx(dec)
        positions = [t.ctx[i] - 1 for i in dec]
        pos_t = self._idx(positions)
        t0 = self.now()
        if j == 0:
            src = self.tokens if self.cfg.free_running else self.refs
            inputs = self._idx([src[i][t.generated[i] - 1] for i in dec])
            h = runner.embed(inputs)
        else:
            h = self.h[idx]
        route_next = self.routing and j + 1 < self.k
        if route_next and self.prev is not None and hi - lo > 1:
            h = runner.decode_layers(h, dec, pos_t, lo, hi - 1)
            self.prev[idx] = h
            h = runner.decode_layers(h, dec, pos_t, hi - 1, hi)
        else:
            if route_next and self.prev is not None:
                self.prev[idx] = h
            h = runner.decode_layers(h, dec, pos_t, lo, hi)
        self.h[idx] = h
        self._sync()
        ctx = tuple(t.ctx[i] for i in dec)
        shape = BatchShape((), ctx)
        self.token_block_executions += len(dec)
        self.log.add(self.steps, "block", j, t0, self.now(), len(dec), len(dec), sum(ctx), 0,
                     self.cost.step_overhead_s + self.cost.block_time_s(hi - lo, shape))
        if j + 1 == self.k:
            return dec
        if not route_next:
            t.queues[j + 1].update(dict.fromkeys(dec, 1))
            return []
        return self._route(j + 1, dec)

    # ------------------------------------------------------------ routing
    def _route(self, start: int, ids: list[int]) -> list[int]:
        """Checkpoint decisions for tokens reaching `start`; a token that skips
        is looked up again where it lands (skips chain). Returns the exits."""
        t, torch, k, bounds = self.t, self.torch, self.k, self.bounds
        exited, frontier = [], {start: list(ids)}
        while frontier:
            c = min(frontier)
            here = frontier.pop(c)
            idx = self._idx(here)
            h = self.h[idx]
            prev = self.prev[idx] if self.prev is not None else None
            rids = t.request_id[here]
            toks = np.array([t.generated[i] - 1 for i in here], np.int64)
            t0 = self.now()
            d = self.skip.decide(c, h, prev, self.runner.logits, rids, toks)
            t1 = self.now()
            if self.skip.does_lookups:
                seconds = d.lookup_s + d.copy_s
                self.lookup_busy_s += seconds
                for i in here:
                    t.lookups[i] += 1
                    t.lookup_time_s[i] += seconds
                self.log.add(self.steps, "lookup", c, t0, t1, len(here), len(here), 0, len(here),
                             self.cost.lookup_time_s(self.bank_entries, len(here)))
                if self.timeline is not None:
                    self.timeline.slice(self.timeline.cpu_track, f"lookup @{c}", t0, t1 - t0,
                                        queries=len(here), host_copy_ms=d.copy_s * 1e3)
            landing = d.landing.tolist()
            p = d.p_change.tolist()
            for m, i in enumerate(here):
                self.decisions.append((int(rids[m]), int(toks[m]), c, landing[m], p[m]))
            hit = [m for m, land in enumerate(landing) if land > c]
            if len(hit) < len(here):
                t.queues[c].update(dict.fromkeys((here[m] for m in range(len(here))
                                                  if landing[m] == c), 1))
            if not hit:
                continue
            if d.delta is not None:
                hit_t = torch.as_tensor(hit, device=h.device)
                delta = torch.as_tensor(d.delta[hit], dtype=h.dtype, device=h.device)
                self.h[idx[hit_t]] = h[hit_t] + delta
            for land in sorted({landing[m] for m in hit}):
                group = [here[m] for m in hit if landing[m] == land]
                lo, hi = bounds[c], bounds[land] if land < k else self.L
                for i in group:
                    t.pass_skipped[i] += hi - lo
                    t.hits[i] += 1
                self._fill_holes(group, lo, hi)
                if land == k:
                    for i in group:
                        t.exits[i] += 1
                    exited += group
                else:
                    frontier[land] = frontier.get(land, []) + group
        return exited

    def _fill_holes(self, ids: list[int], lo: int, hi: int) -> None:
        """The KV-hole policy's plan for layers lo..hi-1 of these tokens, done on the tensors."""
        t, policy = self.t, self.kv_policy
        plan = policy.plan(lo, hi)
        idx = self._idx(ids)
        h = self.h[idx]
        pos = [t.ctx[i] - 1 for i in ids]
        t0 = self.now()
        self.runner.fill_holes(RUNNER_FILL[plan.fill], h, ids, self._idx(pos), lo, hi)
        if policy.defers_repair:
            arr = np.asarray(ids, np.int64)
            self.repair_debt.owe((lo, hi), arr, t.admit_seq[arr], np.asarray(pos, np.int64))
            for m, (i, p) in enumerate(zip(ids, pos)):
                self.repair_states[(i, p, lo)] = h[m].clone()
        self._sync()
        price = policy.step_time_s(self.cost, len(ids), hi - lo) if policy.costs_in_step else 0.0
        self.log.add(self.steps, "kv_hole", -1, t0, self.now(), len(ids), len(ids), 0, 0, price)

    def _repair(self) -> None:
        """`repair`: recompute the skipped layers' K/V of the owed tokens, batched
        by span (tokens of requests preempted or finished since are dropped)."""
        t, states = self.t, self.repair_states
        spans = self.repair_debt.settle(t.running, t.admit_seq)
        self.repair_states = {}  # states of dropped tokens go with them
        self.steps += 1
        start, tokens = self.now(), 0
        for (lo, hi), ids, positions in spans:
            if not len(ids):
                continue
            t0 = self.now()
            ids, pos = ids.tolist(), positions.tolist()
            h = self.torch.stack([states[(i, p, lo)] for i, p in zip(ids, pos)])
            self.runner.repair(ids, self._idx(pos), lo, hi, h)
            self._sync()
            ctx = tuple(p + 1 for p in pos)
            tokens += len(ids)
            self.log.add(self.steps, "repair", -1, t0, self.now(), len(ids), len(ids), sum(ctx),
                         0, self.kv_policy.repair_time_s(self.cost, hi - lo, ctx))
        self.busy_s += self.now() - start
        if self.timeline is not None:
            self.timeline.slice(0, "KV repair", start, self.now() - start, tokens=tokens)

    # ------------------------------------------------------------ outcomes
    def _lm_head_and_emit(self, ids: list[int], h, from_prefill: list[bool]) -> None:
        t0 = self.now()
        toks = self.runner.logits(h).argmax(-1).tolist()
        self._sync()
        self.log.add(self.steps, "lm_head", self.k, t0, self.now(), len(ids), len(ids), 0, 0,
                     self.cost.lm_head_time_s(len(ids)))
        for i, tok, pre in zip(ids, toks, from_prefill):
            self._emit(i, tok, pre)

    def _emit(self, i: int, tok: int, from_prefill: bool) -> None:
        """Request i produced its next output token `tok` now."""
        t, now = self.t, self.now()
        g = t.generated[i]
        assert len(self.tokens[i]) == g, "a token was produced twice"
        self.tokens[i].append(tok)
        t.agree_sum[i] += float(tok == self.refs[i][g])
        t.generated[i] = g = g + 1
        t.ctx[i] += 1
        if from_prefill:
            if np.isnan(t.first_token_s[i]):
                t.first_token_s[i] = now
            if g > 1:  # a recompute after preemption: a later token, full depth
                t.layers_executed[i] += self.L
        else:
            s = t.pass_skipped[i]
            t.layers_executed[i] += self.L - s
            t.layers_skipped[i] += s
        t.pass_skipped[i] = 0
        if g >= t.output[i]:
            self._complete(i, now)
            return
        if self._grow(i):
            t.queues[0][i] = 1

    def _complete(self, i: int, now: float) -> None:
        t = self.t
        t.finish_s[i] = now
        t.running[i], t.done[i] = False, True
        self.runner.free(i)
        self.running -= 1
        self.finished += 1
        if self.progress is not None:
            self.progress.update(1)

    def _grow(self, i: int) -> bool:
        """Pages for request i's next token, preempting the latest-admitted
        queued requests (itself included) until it fits, as vLLM (and the
        simulator) do. False when i itself was preempted."""
        t = self.t
        while not self.runner.allocate(i, int(t.ctx[i])):
            candidates = [v for q in t.queues for v in q] + [i]  # runnable: not in flight
            victim = self.preemption.victim(candidates, t.admit_seq)
            self._preempt(victim)
            if victim == i:
                return False
        return True

    def _preempt(self, v: int) -> None:
        self.runner.free(v)
        self.t.preempt(v)
        self.running -= 1

    # ------------------------------------------------------------ checks
    def check_integrity(self) -> None:
        self.t.check_integrity()
        self.runner.check_integrity()
        self.repair_debt.check_integrity()
        assert self.running == int(self.t.running.sum()), "running count drifted"
        for i, toks in enumerate(self.tokens):
            assert len(toks) >= self.t.generated[i], "a generated token was lost"
