"""The router contract (the registry's table is in the package's `__init__`).

A router at checkpoint index `at` learns from `SkipExamples` (recorded hidden
states with the safety of each candidate landing) and scores new queries: one
score per candidate landing, higher = more confident that the skip keeps the
full model's token. `decide` applies a threshold: each query takes the
deepest landing whose score reaches it, or runs on (landing == at).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from policies.routers import ROUTERS, register_router  # noqa: F401  (re-exported)
from skipsim.errors import UserError


@dataclass(frozen=True)
class SkipExamples:
    """N recorded tokens at one checkpoint. m = number of candidate landings.

    keys: [N, d] hidden states at the checkpoint (float32).
    prev_cos: [N] cos(h_{b-1}, h_b), the last layer's change (saturation feature).
    exit_entropy: [N] entropy (nats) of the LM head read at the checkpoint.
    safe: [N, m] whether skipping to landings[j] kept the full model's token.
    deltas: [N, m, d] residual change h_{landing} - h_b of the skipped blocks
        (zeros for the exit); float16 from calibration, as its recorded states.
    group: [N] prompt id (for grouped splits).
    context: [N, f] context features (`features.CONTEXT_FEATURES`), or None.
    exit_margin: [N] top-1 minus top-2 probability of the LM head read at the
        checkpoint (CALM's confidence), or None.
    """

    at: int
    landings: tuple[int, ...]
    keys: np.ndarray
    prev_cos: np.ndarray
    exit_entropy: np.ndarray
    safe: np.ndarray
    deltas: np.ndarray
    group: np.ndarray
    context: np.ndarray | None = None
    exit_margin: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.keys)

    def subset(self, rows) -> SkipExamples:
        pick = lambda x: None if x is None else x[rows]  # noqa: E731
        return SkipExamples(self.at, self.landings, self.keys[rows], self.prev_cos[rows],
                            self.exit_entropy[rows], self.safe[rows], self.deltas[rows],
                            self.group[rows], pick(self.context), pick(self.exit_margin))

    @property
    def query(self) -> Query:
        return Query(self.keys, self.prev_cos, self.exit_entropy, self.context, self.exit_margin)


@dataclass(frozen=True)
class Query:
    """What a router sees for n live tokens (same fields as SkipExamples)."""

    keys: np.ndarray
    prev_cos: np.ndarray
    exit_entropy: np.ndarray
    context: np.ndarray | None = None
    exit_margin: np.ndarray | None = None


class Router(ABC):
    name = "abstract"
    # whether queries must carry the early-exit entropy and margin: the LM head
    # runs at the checkpoint, a cost the simulator charges per query
    needs_exit_entropy = False
    # whether queries must carry `context` (features.CONTEXT_FEATURES) and a
    # true prev_cos: a live decode then keeps each sequence's h_{b-1}, h_{b-2}
    # and running quantities (`live_context.LiveContext`)
    needs_context = False

    def __init__(self, examples: SkipExamples):
        if len(examples) == 0:
            raise UserError(f"the bank at checkpoint {examples.at} is empty: "
                            "record more tokens before fitting a router")
        self.at = examples.at
        self.landings = tuple(examples.landings)

    @abstractmethod
    def scores(self, query: Query) -> np.ndarray:
        """[n, m] confidence that each candidate landing is safe."""

    def deltas(self, query: Query, landing_idx: np.ndarray) -> np.ndarray:
        """[n, d] residual to add when carrying the state to the chosen landing
        (the neighbour-delta action); zeros where the router has none."""
        return np.zeros_like(query.keys)


def make_router(name: str, examples: SkipExamples) -> Router:
    if name not in ROUTERS:
        raise UserError(f"unknown router {name!r} (choose from {', '.join(sorted(ROUTERS))})")
    return ROUTERS[name](examples)


def decide(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Index of the deepest landing whose score reaches `threshold`, -1 = run on."""
    ok = scores >= threshold
    m = scores.shape[1]
    last = m - 1 - np.argmax(ok[:, ::-1], axis=1)
    return np.where(ok.any(axis=1), last, -1)
