"""Decode held-out prompts with skipping live: routers in the loop, KV holes filled.

Teacher forcing: every step feeds the full model's previous token, so each
prediction is compared with the full model's prediction of the same position
(top-1 agreement and KL(full || skipping)); the skipping run's own hidden
states and K/V, not the full model's, are what later layers and later tokens
see. Prefill is full depth (its K/V are the full model's).

At each inner checkpoint the router scores the tokens standing there (not
those carried past it); a token skipping to landing j carries its state
(plus the router's delta under the `delta` action) and its skipped layers'
K/V rows are filled as the KV-hole policy object (`policies/kv_hole/`, the
simulator's and executor's) says:
  project  K/V projections of the carried state (input RMSNorm + k/v_proj + RoPE),
  copy     the K/V row of the departure layer (the last layer it ran),
  repair   the full model's K/V row (an ideal repair, done at once: the
           reference for holes; the server's repair comes a few steps later),
  none     nothing: later tokens' attention masks the row out.
A static skip set (ShortGPT baseline) skips the same layers for every token.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from policies.checkpoint_plan import CheckpointPlan
from policies.kv_hole import HoleFill, kv_hole_policy
from policies.routers.base import Query, Router, decide
from policies.routers.features import step_confidence
from policies.routers.live_context import LiveContext
from profiler.calibration.decoder import LayerwiseModel
from profiler.calibration.oracle import oracle_route
from profiler.calibration.recording import PromptRecording


@dataclass(frozen=True)
class LiveSetup:
    plan: CheckpointPlan
    routers: dict[int, Router] = field(default_factory=dict)   # checkpoint index -> router
    thresholds: dict[int, float] = field(default_factory=dict)
    static_skip_layers: frozenset[int] = frozenset()
    kv_policy: str = "project"
    action: str = "identity"
    # > 0: no router, the hindsight oracle (`oracle.py`) decides, testing landings
    # up to this many blocks ahead at every inner checkpoint
    oracle_max_skip_blocks: int = 0
    shortcuts: dict = field(default_factory=dict)   # (checkpoint, landing) -> BlockShortcut


@dataclass
class LiveResult:
    agree: np.ndarray          # [N tokens] bool
    kl: np.ndarray             # [N] nats
    skipped_layers: np.ndarray  # [N]
    num_layers: int
    trace: list[tuple[int, int, int, int]]  # (request_id, token_index, at, landing)

    @property
    def agreement(self) -> float:
        return float(self.agree.mean())

    @property
    def skipped_fraction(self) -> float:
        return float(self.skipped_layers.mean() / self.num_layers)


@torch.no_grad()
def evaluate_live(lm: LayerwiseModel, recs: list[PromptRecording], setup: LiveSetup,
                  request_ids: list[int] | None = None) -> LiveResult:
    request_ids = request_ids if request_ids is not None else list(range(len(recs)))
    agree, kl, skipped, trace = [], [], [], []
    B, L = len(recs), lm.num_layers
    lens = torch.tensor([r.prompt_len for r in recs])
    steps = [r.num_decode for r in recs]
    fill = kv_hole_policy(setup.kv_policy).fill
    cache = lm.new_cache(B, int((lens + torch.tensor(steps)).max()) + 1,
                         holes=fill is HoleFill.MASK)
    for b, r in enumerate(recs):
        cache.k[:, b, :, :r.prompt_len] = r.k[:, :, :r.prompt_len]
        cache.v[:, b, :, :r.prompt_len] = r.v[:, :, :r.prompt_len]
    routed = setup.plan.router_checkpoints if setup.oracle_max_skip_blocks else setup.routers
    checkpoints = {setup.plan.boundaries[i]: i for i in routed}
    # per prompt: the running cos at each checkpoint and the previous step's
    # final softmax (this run's own), for the context features
    context = LiveContext()
    for s in range(1, max(steps, default=0) + 1):
        slots = torch.tensor([b for b in range(B) if steps[b] >= s])
        n = len(slots)
        positions = lens[slots] + s - 1
        h = lm.embed(torch.tensor([[recs[b].tokens[s - 1]] for b in slots.tolist()]))
        rope = lm.rope(h, positions.view(-1, 1))
        resume = np.zeros(n, dtype=np.int64)   # next layer each token runs
        depart = np.zeros(n, dtype=np.int64)   # last layer it ran (for `copy`)
        prev_in = h[:, 0].clone()    # input of the last layer each token ran
        prev2_in = h[:, 0].clone()   # and of the one before
        n_skip = np.zeros(n, dtype=np.int64)
        for layer in range(L):
            standing = resume == layer
            if layer in checkpoints and standing.any():
                i = checkpoints[layer]
                rows = np.flatnonzero(standing)
                if setup.oracle_max_skip_blocks:
                    targets = torch.tensor([recs[b].tokens[s] for b in slots[rows].tolist()])
                    land_layer = oracle_route(lm, setup.plan, i, setup.oracle_max_skip_blocks, h,
                                              rows, slots, positions, cache, rope, targets,
                                              setup.shortcuts if setup.action == "shortcut"
                                              else None)
                else:
                    land_layer, choice, query = _route(lm, setup, i, h, prev_in, prev2_in, rows,
                                                       s, context, slots)
                hit = land_layer > layer
                for r, ll in zip(rows, land_layer):
                    trace.append((request_ids[int(slots[r])], s, i, _checkpoint_of(setup.plan, ll)))
                resume[rows] = land_layer
                depart[rows[hit]] = layer - 1
                if setup.action == "delta" and hit.any():
                    d = setup.routers[i].deltas(query, np.where(land_layer < L, choice, -1))
                    h[rows[hit], 0] += torch.from_numpy(d[hit]).float()
                elif setup.action == "shortcut" and hit.any():
                    _apply_shortcuts(setup, i, h, rows[hit], land_layer[hit])
            run = (resume <= layer) & (layer not in setup.static_skip_layers)
            if layer in setup.static_skip_layers:
                depart[resume <= layer] = layer - 1
            idx = torch.from_numpy(np.flatnonzero(run))
            if len(idx):
                prev2_in[idx] = prev_in[idx]
                prev_in[idx] = h[idx, 0]
                h[idx] = lm.decode_layer(layer, h[idx], slots[idx], positions[idx], cache,
                                         (rope[0][idx], rope[1][idx]))
                resume[run] = layer + 1
            hole = torch.from_numpy(np.flatnonzero(~run))
            if len(hole):
                n_skip[~run] += 1
                _fill_hole(lm, fill, layer, h[hole], slots[hole], positions[hole],
                           cache, (rope[0][hole], rope[1][hole]), depart[~run], recs)
        logp = torch.log_softmax(lm.logits(h[:, 0]), -1)
        if setup.routers:
            context.record_step(slots.numpy(), step_confidence(logp).numpy())
        for r, b in enumerate(slots.tolist()):
            agree.append(int(logp[r].argmax()) == recs[b].tokens[s])
            ref = recs[b].ref_logprobs  # calibration recordings keep none: KL unknown there
            kl.append(float((ref[s - 1].exp() * (ref[s - 1] - logp[r])).sum())
                      if ref is not None else float("nan"))
        skipped.extend(n_skip.tolist())
    return LiveResult(np.array(agree, bool), np.array(kl), np.array(skipped), L, trace)


def _route(lm, setup, i, h, prev_in, prev2_in, rows, step, context, slots):
    """(landing layer of each standing token (== its layer when it runs on;
    L + 1 = exit), chosen landing index (-1 = none), the router's query)."""
    router = setup.routers[i]
    plan = setup.plan
    x = h[rows, 0]
    query = _query(lm, router, i, x, prev_in[rows], prev2_in[rows], step, context,
                   slots[rows].numpy())
    idx = decide(router.scores(query), setup.thresholds.get(i, float("inf")))
    land = np.array([router.landings[j] if j >= 0 else i for j in idx])
    layers = np.array([plan.boundaries[c] if c < plan.num_blocks else lm.num_layers + 1
                       for c in land])
    return layers, idx, query


def _query(lm, router, at, x, prev, prev2, step, context, prompts):
    cos = torch.nn.functional.cosine_similarity(prev, x, dim=-1).numpy()
    ent = np.zeros(len(x))
    margin = None
    if router.needs_exit_entropy:
        conf = step_confidence(torch.log_softmax(lm.logits(x), -1)).numpy()
        ent, margin = conf[:, 2], conf[:, 1].astype(np.float64)
    features = context.features(at, prompts, np.full(len(x), step), x.numpy(), prev.numpy(),
                                prev2.numpy(), cos)
    return Query(x.numpy().astype(np.float32), cos, ent, features, margin)


def _apply_shortcuts(setup, i, h, rows, land_layers):
    """Replace each carried state by its block shortcut's image (exit: the map to h_L)."""
    plan = setup.plan
    for ll in np.unique(land_layers):
        j = _checkpoint_of(plan, int(ll))
        sc = setup.shortcuts.get((i, j))
        if sc is None:
            continue
        r = torch.from_numpy(rows[land_layers == ll])
        h[r, 0] = torch.from_numpy(sc.apply(h[r, 0].numpy())).float()


def _checkpoint_of(plan: CheckpointPlan, land_layer: int) -> int:
    return plan.num_blocks if land_layer > plan.num_layers else plan.boundaries.index(land_layer)


def _fill_hole(lm, fill: HoleFill, layer, h, slots, positions, cache, rope, depart, recs):
    if fill is HoleFill.PROJECT:
        k, v = lm.kv(layer, h, rope)
        cache.k[layer, slots, :, positions] = k[:, :, 0]
        cache.v[layer, slots, :, positions] = v[:, :, 0]
    elif fill is HoleFill.COPY:
        src = torch.from_numpy(np.maximum(depart, 0))
        cache.k[layer, slots, :, positions] = cache.k[src, slots, :, positions]
        cache.v[layer, slots, :, positions] = cache.v[src, slots, :, positions]
    elif fill is HoleFill.REPAIR_LATER:  # the full model's row for this teacher-forced token
        for b, p in zip(slots.tolist(), positions.tolist()):
            cache.k[layer, b, :, p] = recs[b].k[layer, :, p]
            cache.v[layer, b, :, p] = recs[b].v[layer, :, p]
    elif fill is HoleFill.MASK:
        cache.holes[layer, slots, positions] = True
    else:
        raise ValueError(f"no tensor fill for {fill}")
