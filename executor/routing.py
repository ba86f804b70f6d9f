"""What happens to decode tokens at the checkpoints of a real run, mixed
into `Executor`: the skip mode decides for every token standing at a
checkpoint at once (one batched lookup); a token that skips has its KV holes
filled on the tensors as the KV-hole policy's `HolePlan` says and is looked
up again where it lands (skips chain); exits go to the LM head in the same
step. `repair` owes the skipped layers to the shared `RepairDebt`, settled
in batched recompute steps.
"""

from __future__ import annotations

import numpy as np


def checkpoint_decision(skip, at: int, states, prev_states, idx, request_ids: np.ndarray,
                        token_indices: np.ndarray, logits, decisions: list,
                        prev2_states=None, context=None):
    """One checkpoint's routing decision for the tokens whose states are rows
    `idx` of `states` [N, d]: gather their states (and the inputs of the one
    or two layers before; the requests' `LiveContext` goes along), ask
    the skip mode (for the router: host copy, features, bank search, vote,
    threshold), and append one (request, token, at, landing, p_change) per
    token to `decisions`. Returns (Decision, landings as a list, the gathered
    states). The executor times this as a lookup, and so does the profiler
    (`profiler.lookup_profile`), so the cost model prices what a run pays."""
    h = states[idx]
    prev = prev_states[idx] if prev_states is not None else None
    prev2 = prev2_states[idx] if prev2_states is not None else None
    d = skip.decide(at, h, prev, logits, request_ids, token_indices, prev2, context)
    landing = d.landing.tolist()
    p = d.p_change.tolist()
    for m, rid in enumerate(request_ids.tolist()):
        decisions.append((rid, int(token_indices[m]), at, landing[m], p[m]))
    return d, landing, h


class Routing:
    def _route(self, start: int, ids: list[int]) -> list[int]:
        """Checkpoint decisions for tokens reaching `start`; a token that skips
        is looked up again where it lands (skips chain). Returns the exits."""
        t, torch, k, bounds = self.t, self.torch, self.k, self.bounds
        exited, frontier = [], {start: list(ids)}
        while frontier:
            c = min(frontier)
            here = frontier.pop(c)
            t0 = self.now()  # the lookup row: the whole decision, bookkeeping included
            idx = self._idx(here)
            rids = t.request_id[here]
            toks = np.array([t.generated[i] - 1 for i in here], np.int64)
            d, landing, h = checkpoint_decision(self.skip, c, self.h, self.prev, idx, rids, toks,
                                                self.runner.logits, self.decisions, self.prev2,
                                                self.context)
            hit = [m for m, land in enumerate(landing) if land > c]
            if len(hit) < len(here):
                t.queues[c].update(dict.fromkeys((here[m] for m in range(len(here))
                                                  if landing[m] == c), 1))
            t1 = self.now()
            if self.skip.does_lookups:
                seconds = d.lookup_s + d.copy_s
                self.lookup_busy_s += seconds
                for i in here:
                    t.lookups[i] += 1
                    t.lookup_time_s[i] += seconds
                self.log.add(self.steps, "lookup", c, t0, t1, len(here), len(here), 0, len(here),
                             self.cost.lookup_time_s(self.bank_entries, len(here)),
                             bank_entries=self.bank_entries)
                if self.timeline is not None:
                    self.timeline.slice(self.timeline.cpu_track, f"lookup @{c}", t0, t1 - t0,
                                        queries=len(here), host_copy_ms=d.copy_s * 1e3)
            if not hit:
                continue
            if d.delta is not None:
                hit_t = torch.as_tensor(hit, device=h.device)
                delta = torch.as_tensor(d.delta[hit], dtype=h.dtype, device=h.device)
                self.h[idx[hit_t]] = h[hit_t] + delta
            if d.state is not None:
                hit_t = torch.as_tensor(hit, device=h.device)
                self.h[idx[hit_t]] = torch.as_tensor(d.state[hit], dtype=h.dtype,
                                                     device=h.device)
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
        self.runner.fill_holes(plan.fill, h, ids, self._idx(pos), lo, hi)
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
                         0, self.kv_policy.repair_time_s(self.cost, hi - lo, ctx), hi - lo)
        self.busy_s += self.now() - start
        if self.timeline is not None:
            self.timeline.slice(0, "KV repair", start, self.now() - start, tokens=tokens)
