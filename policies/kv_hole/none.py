"""`none`: write nothing; later tokens' attention masks the holes out. Free,
but those tokens see fewer keys in the skipped layers.
"""

from __future__ import annotations

from policies.kv_hole.base import HoleFill, KVHolePolicy, register_kv_hole_policy
from profiler.cost_model import CostModel


@register_kv_hole_policy("none")
class MaskHoles(KVHolePolicy):
    fill = HoleFill.MASK
    # a guess, not a measurement: attending to fewer keys loses information
    default_p_change_scale = 1.25

    def step_time_s(self, cost: CostModel, num_tokens: int, num_layers: int) -> float:
        return 0.0
