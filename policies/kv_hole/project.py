"""`project`: write the K/V projections of the carried hidden state into each
skipped layer's rows (input RMSNorm, k_proj/v_proj, RoPE on K), inside the
skipping step. The layers' attention and MLP are not run, so the rows are an
approximation of the full model's (they see the carried, not the layer's own,
input). Time: `CostModel.kv_projection_time_s(tokens, layers)`.
"""

from __future__ import annotations

from policies.kv_hole.base import HoleFill, KVHolePolicy, register_kv_hole_policy
from profiler.cost_model import CostModel


@register_kv_hole_policy("project")
class ProjectHoles(KVHolePolicy):
    fill = HoleFill.PROJECT
    # restores the rows closely: no loss assumed where nothing was measured
    default_p_change_scale = 1.0

    @property
    def costs_in_step(self) -> bool:
        return True

    def step_time_s(self, cost: CostModel, num_tokens: int, num_layers: int) -> float:
        return cost.kv_projection_time_s(num_tokens, num_layers)
