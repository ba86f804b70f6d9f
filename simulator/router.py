"""The router step: bank lookups at the checkpoints and what the tokens do next.

Decode tokens leaving a block reach checkpoint c. A batched lookup in c's
bank (timed by the cost model) lets the skip model decide per token: run
block c (landing = c), skip to a later checkpoint, or exit (landing = k).
A token landing on an inner checkpoint is looked up there again, so skips
chain. Every hit multiplies the token's chance of keeping the full model's
token by (1 - p_change · s), s the KV-hole policy's accuracy factor
(capped at 1); the
policy's time (K/V projections, or a deferred repair) is charged here too.
Pure apart from the skip model's random stream: callers apply the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from policies.checkpoint_plan import CheckpointPlan
from policies.kv_hole import KVHolePolicy
from simulator.skip_model import SkipModel


@dataclass
class Routed:
    """What happened to a batch of tokens at the routers (positions index `ids`)."""

    ids: np.ndarray  # table indices of the routed tokens
    start: int  # the checkpoint the batch reached
    final_at: np.ndarray | None  # checkpoint each token runs next from (== k: exited);
    # None when nobody hit: every token runs block `start`
    rounds: list = field(default_factory=list)  # (checkpoint, positions or None = all, seconds)
    hits: list = field(default_factory=list)  # (positions, skipped layers, 1 - p)
    total_lookup_s: float = 0.0  # serial time of all lookup batches
    kv_time_s: float = 0.0  # `project` time
    repair: list = field(default_factory=list)  # (ids, layers) owed by `repair`


class Router:
    def __init__(self, plan: CheckpointPlan, skip_model: SkipModel, kv_policy: KVHolePolicy,
                 lookup_time_s: Callable[[int, int], float],
                 kv_projection_time_s: Callable[[int, int], float],
                 bank_entries: int, rng: np.random.Generator):
        self.plan, self.skip_model, self.kv_policy = plan, skip_model, kv_policy
        self.lookup_time_s, self.kv_projection_time_s = lookup_time_s, kv_projection_time_s
        self.bank_entries, self.rng = bank_entries, rng
        self.p_scale = skip_model.kv_hole_p_change_scale(kv_policy.name)
        self._bounds = np.asarray(plan.boundaries)

    def route(self, start: int, ids: np.ndarray, request_ids: np.ndarray,
              token_indices: np.ndarray) -> Routed:
        k, n = self.plan.num_blocks, len(ids)
        r = Routed(ids, start, None)
        # frontier: {checkpoint: batch positions of the tokens to look up there};
        # None = the whole batch (the common first round, without copies)
        frontier = {start: None}
        while frontier:
            c = min(frontier)
            here = frontier.pop(c)
            queries = n if here is None else len(here)
            t = self.lookup_time_s(self.bank_entries, queries)
            r.total_lookup_s += t
            r.rounds.append((c, here, t))
            out = self.skip_model.decide(
                self.plan, c, request_ids if here is None else request_ids[here],
                token_indices if here is None else token_indices[here], self.rng)
            landing = out.landing
            hit = landing > c
            if not np.count_nonzero(hit):
                continue
            hit_pos = np.flatnonzero(hit) if here is None else here[hit]
            hit_landing = landing[hit]
            if hit_landing.max() > k:
                raise ValueError(f"skip model {self.skip_model.name} landed past {k}")
            if r.final_at is None:
                r.final_at = np.full(n, start, np.int64)
            r.final_at[hit_pos] = hit_landing
            p = out.p_change[hit]
            keep = 1.0 - (p if self.p_scale == 1.0 else np.minimum(1.0, p * self.p_scale))
            layers = self._bounds[hit_landing] - self._bounds[c]  # an exit skips the rest
            r.hits.append((hit_pos, layers, keep))
            self._fill_holes(r, hit_pos, layers)
            lands = set(hit_landing.tolist())
            for land in lands - {k}:
                more = hit_pos if len(lands) == 1 else hit_pos[hit_landing == land]
                frontier[land] = np.concatenate([frontier[land], more]) if land in frontier else more
        return r

    def _fill_holes(self, r: Routed, hit_pos: np.ndarray, layers: np.ndarray) -> None:
        if not (self.kv_policy.in_step_projection or self.kv_policy.deferred_repair):
            return
        spans = set(layers.tolist())
        for span in spans:
            chosen = hit_pos if len(spans) == 1 else hit_pos[layers == span]
            if self.kv_policy.in_step_projection:
                r.kv_time_s += self.kv_projection_time_s(len(chosen), span)
            else:
                r.repair.append((r.ids[chosen], span))
