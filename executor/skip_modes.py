"""How a decode token standing at a checkpoint decides to skip, in a real run.

A `SkipMode` sees the real hidden states of the tokens standing at inner
checkpoint `at` and answers per token: run on (landing == at), skip to a
later checkpoint, or exit (landing == num_blocks), with the probability
that the decision changes the token (for the decisions file; the executor
measures the real change) and, for the neighbour-delta action, the residual
to add to the carried state. Registered by name:

- `router`: the real routers and thresholds of a SkipProfile, with faiss
  bank lookups (`executor/routers.py`);
- `random`: the parametric skip model's meaning (`--skip-rates`,
  `--exit-prob`, seeded stream `[seed, 3]` as in the simulator), so the skip
  machinery runs and is timed where calibrated routers would not fire;
- `no-skip`: never asked (the trivial baseline: every token runs every layer).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from skipsim.errors import UserError
from skipsim.registry import registrar


class Decision(NamedTuple):
    landing: np.ndarray  # [n] int64 checkpoint index
    p_change: np.ndarray  # [n] P(the decision changes the token); 0 where it runs on
    delta: np.ndarray | None  # [n, d] residual to add to a carried state, or None
    lookup_s: float  # wall time of the bank search
    copy_s: float  # wall time of host <-> device copies of the queries
    # [n, d] the carried state itself, replaced (a learned block shortcut's
    # image of it, `policies/actions/shortcut.py`), or None
    state: np.ndarray | None = None


class SkipMode(ABC):
    name = "abstract"
    label = "abstract"
    does_lookups = False  # a bank lookup per standing token (counted in the records)
    needs_prev_state = False  # wants the input of the last layer before the checkpoint
    # wants the input of the layer before that too, and the executor's
    # per-request `LiveContext` (policies/routers/live_context.py)
    needs_context = False

    @abstractmethod
    def decide(self, at: int, h, prev, logits: Callable, request_ids: np.ndarray,
               token_indices: np.ndarray, prev2=None, context=None) -> Decision:
        """h: [n, d] tensor of the states at checkpoint `at`; prev: their input
        to the layer before (or None); logits(h) -> [n, V] for early-exit features;
        prev2: the input of the layer before that, and context: the requests'
        `LiveContext` (both None unless `needs_context`)."""

    def kv_p_change_scale(self, kv_policy: str) -> float:
        return 1.0


SKIP_MODES: dict[str, Callable] = {}
register_skip_mode = registrar(SKIP_MODES, set_name=True)


@register_skip_mode("no-skip")
class NoSkipMode(SkipMode):
    label = "no skipping: every token runs every layer"

    @classmethod
    def build(cls, plan, options, context):
        return cls()

    def decide(self, at, h, prev, logits, request_ids, token_indices, prev2=None, context=None):
        n = len(request_ids)
        return Decision(np.full(n, at, np.int64), np.zeros(n), None, 0.0, 0.0)


@register_skip_mode("random")
class RandomSkipMode(SkipMode):
    """The parametric skip model's draws, acted out on the real tensors."""

    def __init__(self, plan, model, rng: np.random.Generator):
        self.plan, self.model, self.rng = plan, model, rng
        self.label = f"random ({model.label})"

    @classmethod
    def build(cls, plan, options, context):
        from simulator.skip_models.parametric import ParametricSkipModel

        return cls(plan, ParametricSkipModel.from_options(plan, options),
                   np.random.default_rng([context["seed"], 3]))  # the simulator's router stream

    def decide(self, at, h, prev, logits, request_ids, token_indices, prev2=None, context=None):
        out = self.model.decide(self.plan, at, request_ids, token_indices, self.rng)
        return Decision(out.landing.astype(np.int64), out.p_change, None, 0.0, 0.0)


def make_skip_mode(name: str, plan, options: dict, context: dict) -> SkipMode:
    if name not in SKIP_MODES:
        raise UserError(f"unknown skip mode {name!r}: use one of {', '.join(sorted(SKIP_MODES))}")
    return SKIP_MODES[name].build(plan, options, context)
