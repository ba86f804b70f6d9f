"""`copy`: write the departure layer's K/V row (the last layer the token ran)
into each skipped layer's rows. A device memcpy of a few KB per token: taken
as free. A cruder stand-in than `project` (the rows belong to another layer's
projections).
"""

from __future__ import annotations

from policies.kv_hole.base import HoleFill, HolePlan, KVHolePolicy, register_kv_hole_policy
from profiler.cost_model import CostModel


@register_kv_hole_policy("copy")
class CopyHoles(KVHolePolicy):
    fill = HoleFill.COPY
    # a guess, not a measurement: rows of the wrong layer cost some accuracy
    default_p_change_scale = 1.1

    def plan(self, first_layer: int, stop_layer: int) -> HolePlan:
        if first_layer < 1:
            raise ValueError("copy needs a departure layer: a skip cannot start at layer 0")
        hole = super().plan(first_layer, stop_layer)
        return HolePlan(hole.fill, hole.layers, first_layer - 1)

    def step_time_s(self, cost: CostModel, num_tokens: int, num_layers: int) -> float:
        return 0.0
