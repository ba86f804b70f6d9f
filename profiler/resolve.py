"""Choosing a cost model from the command line: `auto`, a registered name, or a profile path.

`auto` (the default of every `simulate` run) is the measured model on the
committed profile of the simulated model on that device kind when one
exists (`profiler/profiles/<device>-<model>.csv`), else the analytic
roofline, whose label says so in every output. A name picks from
`COST_MODELS`; a path to a profile table or a saved fit picks the measured
model on that file.
"""

from __future__ import annotations

from pathlib import Path

import profiler.roofline  # noqa: F401  (registers "roofline")
from profiler.cost_model import COST_MODELS, CostModel, unknown_cost_model
from profiler.fitted import FIT_SUFFIX, MeasuredCostModel, profile_path
from profiler.profile_table import SUFFIXES

AUTO = "auto"


def committed_profile(spec, device: str) -> Path | None:
    path = profile_path(spec.name, device)
    return path if path.is_file() else None


def cost_model_from_arg(name_or_path: str | None, spec, device: str = "cpu") -> CostModel:
    """The simulator's call: `spec` (a `ModelSpec`) is the simulated model, which
    a measured profile must be of; `device` as in `COST_MODELS[name](spec=, device=)`."""
    key = name_or_path or AUTO
    if key == AUTO:
        profile = committed_profile(spec, device)
        if profile is not None:
            return MeasuredCostModel(spec=spec, device=device, profile=profile)
        return COST_MODELS["roofline"](spec=spec, device=device)
    if key.endswith(SUFFIXES) or key.endswith(FIT_SUFFIX) or Path(key).is_file():
        return MeasuredCostModel(spec=spec, device=device, profile=key)
    if key not in COST_MODELS:
        raise unknown_cost_model(key)
    return COST_MODELS[key](spec=spec, device=device)
