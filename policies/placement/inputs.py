"""What the planner decides over: candidate checkpoints, each with its measured
router options, and the per-token prices of every piece of work.

Everything is per decode token at the workload's operating batch size
`batch` (B), in seconds. A piece of work that runs once per batch step has a
*fixed* part (paid once per step whatever the batch: weights read, launches)
and a *per-token* part. The tokens of a decode round run as *groups* (one
block step per group): all B start together; a token that skips leaves its
group and, with the tokens that skip with it, forms a new one (the
simulator's deepest-first scheduler runs that group to the end of the round
before the rest moves on, so groups never merge again within a round). A
token pays the per-token part of every step it takes, and a *share* of the
fixed part: the expected inverse of its group's size, 1/B in the first
group, `departure_share(a)` in a group formed by a skip of per-token
probability a, and `stay_factor(s)` / (1 - s) times its share before when it
stays while the others skip with probability s (`evaluate.py` states the
approximation). `evaluate.py`,
`dp.py` and `ilp.py` read these numbers and nothing else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from skipsim.errors import UserError


@dataclass(frozen=True)
class Affine:
    """Time of one batched call as fixed + per_token × tokens (seconds)."""

    fixed_s: float
    per_token_s: float

    def __post_init__(self):
        if self.fixed_s < 0 or self.per_token_s < 0:
            raise ValueError(f"negative time in {self}")


@dataclass(frozen=True)
class RouterOption:
    """One measured operating point of the router at a candidate checkpoint.

    key: the SkipProfile's name for it ("0.9": a calibrated target with the
        full bank; "bank:0.5": the bank-size sweep's half bank).
    landings: (layer, P(landing | hit)); layer == num_layers is an exit.
    error_prob: P(the skip changes the greedy token | hit), KV-hole factor included.
    """

    key: str
    hit_prob: float
    error_prob: float
    landings: tuple[tuple[int, float], ...]
    bank_entries: int
    lookup: Affine

    def __post_init__(self):
        if not (0.0 <= self.hit_prob <= 1.0 and 0.0 <= self.error_prob <= 1.0):
            raise ValueError(f"router option {self.key}: probabilities outside [0, 1]")

    @property
    def log_keep(self) -> float:
        """log P(token kept | skip); a certain change is floored at 1e-12."""
        return math.log(max(1e-12, 1.0 - self.error_prob))


@dataclass(frozen=True)
class PlanInputs:
    model: str
    num_layers: int
    candidates: tuple[int, ...]                 # layers that may get a router (0 < c < L)
    options: dict                               # layer -> tuple[RouterOption, ...]
    layer: Affine                               # one decoder layer
    step_overhead_s: float                      # per block step (scheduler, launches)
    kv_projection: Affine                       # K/V projections of one skipped layer
    head_s: float                               # per token, any plan: prefill share (+ LM head
    #                                             when `lm_head` is left zero)
    batch: int                                  # operating batch size B (requests per step)
    entry_bytes: int                            # one bank entry: float32 key + payload
    bank_budget_bytes: float                    # bank memory that leaves the KV cache room for B
    min_agreement: float = 0.0                  # floor on exp(E[Σ log keep])
    fallback: RouterOption | None = None        # a router at an unmeasured layer: never hits
    aliases: dict = field(default_factory=dict)  # (layer, key) -> key of an identical option kept
    labels: dict = field(default_factory=dict)  # cost model, profile, transfer note, memory ...
    lm_head: Affine = Affine(0.0, 0.0)          # one LM-head call (a group's logits)

    def __post_init__(self):
        c = self.candidates
        if any(not 0 < x < self.num_layers for x in c) or list(c) != sorted(set(c)):
            raise UserError(f"candidate checkpoints {list(c)} must rise strictly inside "
                            f"(0, {self.num_layers})")
        if self.batch < 1:
            raise UserError("the operating batch size must be at least 1")
        if not 0.0 <= self.min_agreement <= 1.0:
            raise UserError(f"--min-agreement must lie in [0, 1], got {self.min_agreement}")
        for layer in c:
            for o in self.options.get(layer, ()):
                for land, _ in o.landings:
                    if not layer < land <= self.num_layers:
                        raise ValueError(f"option {o.key} at {layer} lands at {land}")

    @property
    def first_share(self) -> float:
        """A token's share of its first group's fixed costs: all B start together."""
        return 1.0 / self.batch

    def departure_share(self, a: float) -> float:
        """E[1 / group size] of a token that leaves a full group of B, each member
        leaving the same way with probability a: size = 1 + Binomial(B - 1, a), and
        E[1 / (1 + Bin(n - 1, a))] = (1 - (1 - a)^n) / (n a) (the binomial identity
        Σ_k C(n-1,k) a^k (1-a)^(n-1-k) / (k+1) = (1 - (1-a)^n) / (n a)).
        1 at B = 1 or a -> 0 (alone), 1/B at a = 1 (the whole group moves)."""
        B = self.batch
        if a <= 0.0 or B == 1:
            return 1.0
        if a >= 1.0:
            return 1.0 / B
        return -math.expm1(B * math.log1p(-a)) / (B * a)

    def stay_factor(self, s: float) -> float:
        """Launches of the stayers' group per launch of the group it leaves, when
        each member skips with probability s: P(anyone of B stays) = 1 - s^B.
        Share-weighted mass × this factor is the stayers' (mass × (1 - s) is their
        mass): the group shrinks, its steps do not. 1 - s at B = 1."""
        return 1.0 - min(1.0, max(0.0, s)) ** self.batch

    @property
    def min_log_agreement(self) -> float:
        return math.log(self.min_agreement) if self.min_agreement > 0 else -math.inf

    def block_fixed_s(self, layers: int) -> float:
        return layers * self.layer.fixed_s + self.step_overhead_s

    def block_per_token_s(self, layers: int) -> float:
        return layers * self.layer.per_token_s

    def options_at(self, layer: int) -> tuple[RouterOption, ...]:
        return tuple(self.options.get(layer, ()))

    def option_named(self, layer: int, key: str) -> RouterOption | None:
        key = self.aliases.get((layer, key), key)
        return next((o for o in self.options.get(layer, ()) if o.key == key), None)
