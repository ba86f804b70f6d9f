"""The router step: bank lookups at the checkpoints and what the tokens do next.

Decode tokens leaving a block reach checkpoint c. A batched lookup in c's
bank (timed by the cost model) lets the skip model decide per token: run
block c (landing = c), skip to a later checkpoint, or exit (landing = k).
A token landing on an inner checkpoint is looked up there again, so skips
chain. Every hit multiplies the token's chance of keeping the full model's
token by (1 - p_change · s), s the KV-hole policy's accuracy factor
(capped at 1); the policy's time (`step_time_s`: K/V projections) is charged
here too, and the spans a deferring policy owes are listed for the caller's
`RepairDebt`. Pure apart from the skip model's random stream: callers apply
the result. (`RouterStep`, not a `policies.routers.Router`: the real routers
decide from hidden states; this step draws their decisions from a skip model.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from policies.checkpoint_plan import CheckpointPlan
from policies.kv_hole import KVHolePolicy
from profiler.cost_model import CostModel
from simulator.skip_model import SkipModel


@dataclass(slots=True)  # one per routed batch: slots make it cheaper to build
class Routed:
    """What happened to a batch of tokens at the routers (positions index `ids`;
    positions, layers and keep factors are numpy arrays)."""

    ids: np.ndarray  # table indices of the routed tokens
    start: int  # the checkpoint the batch reached
    final_at: np.ndarray | None  # checkpoint each token runs next from (== k: exited);
    # None when nobody hit: every token runs block `start`
    rounds: list = field(default_factory=list)  # (checkpoint, positions or None = all, seconds)
    hits: list = field(default_factory=list)  # (positions, skipped layers, 1 - p) per round
    total_lookup_s: float = 0.0  # serial time of all lookup batches
    kv_time_s: float = 0.0  # the KV-hole policy's in-step time and the skip action's
    repair: list = field(default_factory=list)  # (ids, layers) owed by a deferring policy
    exited: int = 0  # tokens with final_at == k
    landings: set = field(default_factory=set)  # every value final_at holds (and maybe more)


class RouterStep:
    def __init__(self, plan: CheckpointPlan, skip_model: SkipModel, kv_policy: KVHolePolicy,
                 lookup_time_s: Callable[[int, int], float], cost: CostModel,
                 bank_entries: int | dict, rng: np.random.Generator,
                 action_time_s: Callable[[int], float] | None = None):
        self.plan, self.skip_model, self.kv_policy = plan, skip_model, kv_policy
        self.lookup_time_s, self.cost = lookup_time_s, cost
        self.action_time_s = action_time_s
        # one size for every bank, or {checkpoint: entries} (a plan's)
        self.bank_entries, self.rng = bank_entries, rng
        self._entries = ((lambda c: bank_entries.get(c, 0)) if isinstance(bank_entries, dict)
                         else lambda c: bank_entries)
        # an empty bank cannot hit: with every bank empty no lookup is made at all
        self.has_entries = (any(bank_entries.values()) if isinstance(bank_entries, dict)
                            else bank_entries > 0)
        self.p_scale = skip_model.kv_hole_p_change_scale(kv_policy.name)
        self._in_step, self._deferred = kv_policy.costs_in_step, kv_policy.defers_repair
        self._bounds = np.asarray(plan.boundaries, np.int64)

    def route(self, start: int, ids: np.ndarray, request_ids: np.ndarray,
              token_indices: np.ndarray) -> Routed:
        # In bulk per lookup round: the skip model's hits come as arrays of
        # batch positions, and every per-token outcome is an array operation.
        k, n, bounds, scale = self.plan.num_blocks, len(ids), self._bounds, self.p_scale
        r = Routed(ids, start, None, landings={start})
        final = None
        # frontier: {checkpoint: batch positions of the tokens to look up there};
        # None = the whole batch (the common first round, without copies)
        frontier = {start: None}
        while frontier:
            c = min(frontier)
            here = frontier.pop(c)
            if here is None:
                queries, rids, toks = n, request_ids, token_indices
            elif self.skip_model.uses_request_ids:
                queries, rids, toks = len(here), request_ids[here], token_indices[here]
            else:  # the model reads only how many tokens there are: no gather
                queries, rids, toks = len(here), here, here
            t = self.lookup_time_s(self._entries(c), queries)
            r.total_lookup_s += t
            r.rounds.append((c, here, t))
            hit, hit_landing, hit_p = self.skip_model.decide_hits(self.plan, c, rids, toks,
                                                                  self.rng)
            if not len(hit):
                continue
            hit_pos = hit if here is None else here[hit]
            if final is None:
                final = np.empty(n, np.int64)
                final.fill(start)
            final[hit_pos] = hit_landing
            keep = 1.0 - (hit_p if scale == 1.0 else np.minimum(1.0, hit_p * scale))
            layers = bounds[hit_landing] - bounds[c]  # an exit skips the rest
            r.hits.append((hit_pos, layers, keep))
            self._fill_holes(r, hit_pos, layers)
            if self.action_time_s is not None:
                r.kv_time_s += self.action_time_s(len(hit_pos))
            lands = set(hit_landing.tolist())
            r.landings.update(lands)
            for land in lands - {k}:
                more = hit_pos if len(lands) == 1 else hit_pos[hit_landing == land]
                frontier[land] = np.concatenate((frontier[land], more)) if land in frontier \
                    else more
        if final is not None:
            r.final_at = final
            r.exited = int(np.count_nonzero(final == k))
        return r

    def _fill_holes(self, r: Routed, hit_pos: np.ndarray, layers: np.ndarray) -> None:
        policy, in_step, deferred = self.kv_policy, self._in_step, self._deferred
        if not (in_step or deferred):  # free policies: nothing to charge or owe
            return
        # spans in set order, as they were always charged (the float sum's order)
        spans = set(layers.tolist())
        for span in spans:
            chosen = hit_pos if len(spans) == 1 else hit_pos[layers == span]
            if in_step:
                r.kv_time_s += policy.step_time_s(self.cost, len(chosen), span)
            if deferred:
                r.repair.append((r.ids[chosen], span))
