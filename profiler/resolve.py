"""Choosing a cost model from the command line: a registered name or a profile path.

`cost_model_from_arg(None)` is the default every `simulate` run gets: the
measured model on the committed CPU profile. A name picks from `COST_MODELS`
(the analytic roofline registers itself when its module is imported); a path
to a profile table or a saved fit picks the measured model on that file.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from profiler.cost_model import COST_MODELS, CostModel, unknown_cost_model
from profiler.fitted import FIT_SUFFIX, MeasuredCostModel
from profiler.profile_table import SUFFIXES

DEFAULT_COST_MODEL = "measured"
# modules that register cost models when imported (absent ones are skipped)
PROVIDERS = ("profiler.fitted", "profiler.roofline")


def _load_providers() -> None:
    for module in PROVIDERS:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name != module:
                raise


def cost_model_from_arg(name_or_path: str | None, spec, device: str = "cpu") -> CostModel:
    """The simulator's call: `spec` (a `ModelSpec`) is the simulated model, which
    a measured profile must be of; `device` as in `COST_MODELS[name](spec=, device=)`."""
    key = name_or_path or DEFAULT_COST_MODEL
    if key.endswith(SUFFIXES) or key.endswith(FIT_SUFFIX) or Path(key).is_file():
        return MeasuredCostModel(spec=spec, device=device, profile=key)
    _load_providers()
    if key not in COST_MODELS:
        raise unknown_cost_model(key)
    return COST_MODELS[key](spec=spec, device=device)
