"""Names to objects: the cost model, skip model and scheduler a config asks for.

Lookups are generic over the registries: cost models via `profiler.resolve`,
`SKIP_MODELS[name].from_options(plan, options)`, `SCHEDULERS[name]()`; a
registry imports an implementation the first time its name is looked up.
"""

from __future__ import annotations

from policies.checkpoint_plan import CheckpointPlan
from profiler.cost_model import CostModel
from profiler.devices import DEVICES
from profiler.resolve import cost_model_from_arg
from simulator.skip_model import SKIP_MODELS, SkipModel
from skipsim.errors import UserError
from skipsim.model_spec import ModelSpec


def build_cost_model(name: str, spec: ModelSpec, device: str) -> CostModel:
    """`auto`, a registered name, or a profile path (see `profiler.resolve`)."""
    return cost_model_from_arg(name, spec, device)


def host_link_bytes_per_s(device: str) -> float:
    """Host <-> device bandwidth of a known device (inf when unknown or the CPU)."""
    spec = DEVICES.get(device.lower())
    return spec.host_link_bytes_per_s if spec else float("inf")


def build_skip_model(name: str, plan: CheckpointPlan, options: dict) -> SkipModel:
    if name not in SKIP_MODELS:
        raise UserError(f"unknown skip model {name!r}: use one of {', '.join(sorted(SKIP_MODELS))}")
    factory = SKIP_MODELS[name]
    if hasattr(factory, "from_options"):
        return factory.from_options(plan, options)
    return factory()
