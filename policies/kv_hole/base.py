"""The KV-hole contract: what a skip does to the KV cache, and what it costs.

Later tokens attend to every layer's K/V, so a token that skips layers
[first, stop) leaves a hole in each of their cache rows. A `KVHolePolicy`
answers two questions, one per side of the project:
- the executor asks `plan(first, stop)` and writes (or masks) the rows the
  returned `HolePlan` names: that is the policy's behaviour on the tensors;
- the simulator asks `step_time_s` (time inside the skipping step) and, for
  a policy that `defers_repair`, owes the rows to a `RepairDebt`
  (`repair_debt.py`) settled later in batched steps of `repair_time_s`.
Both sides read the accuracy fallback `default_p_change_scale` (a factor on
a hit's p_change, used where a skip model did not measure the policy).

Policies register by name (`@register_kv_hole_policy`); one file each.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from profiler.cost_model import BatchShape, CostModel
from skipsim.errors import UserError
from skipsim.registry import registrar


class HoleFill(Enum):
    """What a skipped layer's K/V row of the token receives at the skip."""

    PROJECT = "project"  # k_proj/v_proj of the carried hidden state (input norm, RoPE on K)
    COPY = "copy"  # the departure layer's K/V row of the same token
    REPAIR_LATER = "repair-later"  # nothing now; the skipped layers are recomputed later
    MASK = "mask"  # nothing ever; attention never reads the row


@dataclass(frozen=True)
class HolePlan:
    """The cache rows one skip affects and what happens to them (layer indices,
    0-based; `stop` == num_layers for an exit)."""

    fill: HoleFill
    layers: range  # the skipped layers: the token's rows in these layers are the hole
    source_layer: int | None  # COPY: the layer whose row is copied (the last one run)

    @property
    def writes_now(self) -> bool:
        """The rows are written inside the skipping step."""
        return self.fill in (HoleFill.PROJECT, HoleFill.COPY)

    @property
    def masked(self) -> bool:
        """Attention must not read the rows (until repaired, for REPAIR_LATER)."""
        return self.fill in (HoleFill.REPAIR_LATER, HoleFill.MASK)


class KVHolePolicy(ABC):
    name: str = "abstract"
    fill: HoleFill
    # Factor on a hit's p_change where the skip model did not measure this
    # policy (see each policy's file for why its value).
    default_p_change_scale: float = 1.0

    def plan(self, first_layer: int, stop_layer: int) -> HolePlan:
        """The hole left by a token that ran layers < first_layer and runs
        again at stop_layer (num_layers: it exited)."""
        if not 0 <= first_layer < stop_layer:
            raise ValueError(f"a skip covers at least one layer: [{first_layer}, {stop_layer})")
        return HolePlan(self.fill, range(first_layer, stop_layer), None)

    @property
    def costs_in_step(self) -> bool:
        """The skipping step pays `step_time_s` (fast path: others pay nothing)."""
        return False

    @property
    def defers_repair(self) -> bool:
        """The skipped layers are owed to a `RepairDebt`."""
        return False

    @abstractmethod
    def step_time_s(self, cost: CostModel, num_tokens: int, num_layers: int) -> float:
        """Time the policy adds to the step in which `num_tokens` tokens skip
        `num_layers` layers each (seconds)."""

    @staticmethod
    def repair_time_s(cost: CostModel, num_layers: int, contexts: Sequence[int]) -> float:
        """One batched recompute of `num_layers` skipped layers for tokens
        whose contexts (prompt + generated, their own K/V included) are
        `contexts`: a decode-shaped block step."""
        return cost.block_time_s(num_layers, BatchShape((), tuple(contexts)))

    def __repr__(self) -> str:
        return f"<KV-hole policy {self.name}: {self.fill.value}>"


KV_HOLE_POLICIES: dict[str, type[KVHolePolicy]] = {}
register_kv_hole_policy = registrar(KV_HOLE_POLICIES, set_name=True)


def kv_hole_policy(name: str) -> KVHolePolicy:
    if name not in KV_HOLE_POLICIES:
        raise UserError(f"unknown KV policy {name!r}: use one of {', '.join(KV_HOLE_POLICIES)}")
    return KV_HOLE_POLICIES[name]()
