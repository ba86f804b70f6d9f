"""Choosing a cost model from the command line: `auto`, a registered name, or a profile path.

`auto` (the default of every `simulate` run) is the measured model on a
committed profile of the simulated model: on the CPU, the one measured on
this machine's CPU model with one thread when there is one
(`profiler.committed.profile_of_this_cpu`, the rule `simulate validate`
uses: a profile of another CPU is off by that CPU's speed alone), else the
device kind's committed default (`profiler/profiles/<device>-<model>.csv`;
on the CPU an AMD EPYC's), else the analytic roofline, whose label says so
in every output. A name picks from `COST_MODELS`; a path to a profile table
or a saved fit picks the measured model on that file. The model's `source`
says which was chosen and why (printed under the run's header and written
to its config.json with the labels).
"""

from __future__ import annotations

from pathlib import Path

import profiler.roofline  # noqa: F401  (registers "roofline")
from profiler.cost_model import COST_MODELS, CostModel, unknown_cost_model
from profiler.fitted import FIT_SUFFIX, MeasuredCostModel, profile_path
from profiler.profile_table import SUFFIXES

AUTO = "auto"
AUTO_THREADS = 1  # the thread count `auto` matches: the executor's default, every committed one


def auto_profile(model: str, device: str) -> tuple[Path | None, str]:
    """The profile `auto` picks for `model` on `device`, and why (None: the roofline)."""
    from profiler.committed import PROFILES_DIR, profile_of_this_cpu
    from profiler.hardware import cpu_name

    shown = lambda p: f"profiler/profiles/{p.relative_to(PROFILES_DIR)}"  # noqa: E731
    on_cpu = device.split(":")[0].lower() == "cpu"
    if on_cpu:
        mine = profile_of_this_cpu(model, AUTO_THREADS)
        if mine is not None and mine.is_file():
            return mine, (f"auto: {shown(mine)}, the committed profile of this CPU, "
                          f"{cpu_name()} with {AUTO_THREADS} thread")
    path = profile_path(model, device)
    if path.is_file():
        why = (f"; none is committed for this CPU, {cpu_name()} with {AUTO_THREADS} thread"
               if on_cpu else "")
        return path, f"auto: {shown(path)}, the committed {device} default{why}"
    return None, f"auto: no committed profile of {model} on {device}, so the roofline"


def cost_model_from_arg(name_or_path: str | None, spec, device: str = "cpu") -> CostModel:
    """The simulator's call: `spec` (a `ModelSpec`) is the simulated model, which
    a measured profile must be of; `device` as in `COST_MODELS[name](spec=, device=)`."""
    key = name_or_path or AUTO
    if key == AUTO:
        profile, why = auto_profile(spec.name, device)
        model = (COST_MODELS["roofline"](spec=spec, device=device) if profile is None
                 else MeasuredCostModel(spec=spec, device=device, profile=profile))
    elif key.endswith(SUFFIXES) or key.endswith(FIT_SUFFIX) or Path(key).is_file():
        model, why = MeasuredCostModel(spec=spec, device=device, profile=key), f"asked: {key}"
    elif key not in COST_MODELS:
        raise unknown_cost_model(key)
    else:
        model, why = COST_MODELS[key](spec=spec, device=device), f"asked: {key}"
    model.source = why
    if isinstance(model, MeasuredCostModel):
        model.profile_path = str(Path(profile if key == AUTO else key).resolve())
    return model
