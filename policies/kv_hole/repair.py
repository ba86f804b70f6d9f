"""`repair`: write nothing at the skip; owe the skipped layers of the token to
a `RepairDebt` and recompute them later for many tokens at once (a batched
decode-shaped step over the skipped layers, `repair_time_s`), when
`repair_batch_tokens` are owed or the device is idle. Until then the rows are
masked. Once repaired the rows are the full model's, up to the carried input:
calibration's live runs write the full model's rows (an ideal repair).
"""

from __future__ import annotations

from policies.kv_hole.base import HoleFill, KVHolePolicy, register_kv_hole_policy
from profiler.cost_model import CostModel


@register_kv_hole_policy("repair")
class RepairHolesLater(KVHolePolicy):
    fill = HoleFill.REPAIR_LATER
    # the rows end up recomputed: no loss assumed where nothing was measured
    default_p_change_scale = 1.0

    @property
    def defers_repair(self) -> bool:
        return True

    def step_time_s(self, cost: CostModel, num_tokens: int, num_layers: int) -> float:
        return 0.0  # paid later, by the repair steps
