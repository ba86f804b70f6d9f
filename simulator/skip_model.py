"""The skip-model contract: what the routers at the checkpoints decide.

At an inner checkpoint `at` of a `CheckpointPlan`, each token's router either
lets it run the next block, skips it to a later checkpoint, or exits it to
the LM head. A `SkipModel` draws these outcomes for a batch of tokens, with
the probability that each decision changes the full model's greedy token
(so the simulator reports expected agreement next to every speedup).

Implementations register by name with `@register_skip_model("name")`
(parametric hit rates, replay of recorded decisions, a measured SkipProfile);
`no-skip` below is the trivial baseline. Skip models are pure: randomness
comes only from the `rng` passed in.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import NamedTuple

import numpy as np

from policies.checkpoint_plan import CheckpointPlan
from simulator.skip_models import SKIP_MODELS, register_skip_model  # noqa: F401  (re-exported)


class SkipOutcome(NamedTuple):
    """Per token of the batch (arrays of equal length); a named tuple, as
    it is built once per router batch.

    landing: checkpoint index the token continues from. `landing == at` runs
        the next block; `at < landing < num_blocks` skips blocks at..landing-1;
        `landing == num_blocks` exits to the LM head.
    p_change: probability that this decision changes the greedy token
        (0 where the token runs on).
    """

    landing: np.ndarray
    p_change: np.ndarray


class SkipModel(ABC):
    name: str = "abstract"
    label: str = "abstract"
    # False: decide() ignores request_ids and token_indices, so the simulator
    # need not gather them (it passes placeholders of the right length)
    uses_request_ids: bool = True
    # what a skipping token carries (a `policies.actions` name: its work is
    # charged per hit) and whether the router reads the LM head at a checkpoint
    # (CALM-style confidence: one LM head per query, charged per lookup)
    skip_action: str = "identity"
    router_reads_lm_head: bool = False

    @abstractmethod
    def decide(self, plan: CheckpointPlan, at: int, request_ids: np.ndarray,
               token_indices: np.ndarray, rng: np.random.Generator) -> SkipOutcome:
        """Router outcomes for the decode tokens reaching inner checkpoint `at`.

        token_indices: position of each token among its request's outputs
        (0 = first generated token), for models that replay recorded traces.
        """

    def decide_hits(self, plan: CheckpointPlan, at: int, request_ids: np.ndarray,
                    token_indices: np.ndarray, rng: np.random.Generator
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`decide` reduced to its hits, as arrays: (batch positions with
        landing > at, ascending, int64; their landings, int64; their
        p_change). The router reads only these; models whose hits are sparse
        override this to skip the per-token outcome arrays (the same draws,
        the same outcomes)."""
        out = self.decide(plan, at, request_ids, token_indices, rng)
        landing = np.asarray(out.landing, np.int64)
        if len(landing) and (landing.min() < at or landing.max() > plan.num_blocks):
            raise ValueError(f"skip model {self.name} landed outside [{at}, {plan.num_blocks}]")
        hit = (landing > at).nonzero()[0]
        return hit, landing[hit], np.asarray(out.p_change, float)[hit]

    def kv_hole_p_change_scale(self, kv_policy: str) -> float:
        """Factor on p_change for a skip whose K/V holes `kv_policy` fills
        (see policies/kv_hole/); models that measured it override this."""
        from policies.kv_hole import DEFAULT_P_CHANGE_SCALE

        return DEFAULT_P_CHANGE_SCALE.get(kv_policy, 1.0)

    def notes(self, plan: CheckpointPlan) -> list[str]:
        """What a reader of the results must know about this model on `plan`
        (figures transferred from another model, routers that never fire)."""
        return []

    @staticmethod
    def never_fire_note(plan: CheckpointPlan, silent: list[int], where: str) -> list[str]:
        """The note for routers at checkpoint indices `silent` that never hit
        (`where`: "at target 0.99 in this profile", ...); [] when all can."""
        routers = len(plan.router_checkpoints)
        if not silent:
            return []
        if len(silent) == routers:
            return [f"routers never fire {where}: lookups are pure cost"]
        layers = ", ".join(str(plan.boundaries[c]) for c in silent)
        return [f"routers at layers {layers} ({len(silent)} of {routers}) never fire "
                f"{where}: their lookups are pure cost"]

    @classmethod
    def from_options(cls, plan: CheckpointPlan, options: dict) -> SkipModel:
        """Build from the CLI's skip options (`skip_rates`, `skip_config`, ...);
        models without options ignore them."""
        return cls()


@register_skip_model("no-skip")
class NeverSkip(SkipModel):
    """Every token runs every block: the full model."""

    name = "no-skip"
    label = "no skipping"
    uses_request_ids = False

    def decide(self, plan, at, request_ids, token_indices, rng):
        n = len(request_ids)
        return SkipOutcome(np.full(n, at, dtype=np.int64), np.zeros(n))
