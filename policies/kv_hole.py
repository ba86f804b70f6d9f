"""KV-hole policies: what fills the K/V of layers a token skipped.

Later tokens attend to every layer's K/V, so a skip leaves a hole in each
skipped layer. Each policy trades time against accuracy:
- `project`: run only the K/V projections of the carried hidden state in the
  skipped layers (time: `CostModel.kv_projection_time_s`, in the step);
- `copy`: reuse the departure layer's K/V for the skipped layers (a device
  memcpy of a few KB per token: taken as free);
- `repair`: write nothing now; recompute the skipped layers for those tokens
  later, batched (`repair_batch_tokens` tokens per repair step, or when the
  GPU is idle);
- `none`: mask the holes out of attention (free).
The accuracy effect is a factor on the skip decision's p_change, taken from
the skip model (`SkipModel.kv_hole_p_change_scale`).
"""

from __future__ import annotations

from dataclasses import dataclass

from skipsim.errors import UserError


@dataclass(frozen=True)
class KVHolePolicy:
    name: str
    in_step_projection: bool  # pay kv_projection_time_s inside the step
    deferred_repair: bool  # owe a batched recompute of the skipped layers


KV_HOLE_POLICIES = {
    "project": KVHolePolicy("project", True, False),
    "copy": KVHolePolicy("copy", False, False),
    "repair": KVHolePolicy("repair", False, True),
    "none": KVHolePolicy("none", False, False),
}

# Fallback accuracy factors for skip models that did not measure them (the
# `measured` model reads project/copy/repair from its SkipProfile's live runs;
# nothing measures `none`): project and repair restore (or approximate well)
# the skipped K/V; copying the departure layer's K/V is a cruder stand-in;
# masking loses information. Guesses, not measurements.
DEFAULT_P_CHANGE_SCALE = {"project": 1.0, "repair": 1.0, "copy": 1.1, "none": 1.25}


def kv_hole_policy(name: str) -> KVHolePolicy:
    if name not in KV_HOLE_POLICIES:
        raise UserError(f"unknown KV policy {name!r}: use one of {', '.join(KV_HOLE_POLICIES)}")
    return KV_HOLE_POLICIES[name]
