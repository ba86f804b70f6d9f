"""The placement contract, and the two baselines beside it.

A `Placement` turns `PlanInputs` into a `Plan`: the checkpoint boundaries and
the router option (operating point + bank size) at each inner checkpoint.
`manual` takes the boundaries as typed (the seed's `8,4,4,4,4,2,2,2`) and
one operating point for every router; `uniform` cuts the layers into equal
blocks. The ILP (`ilp.py`) and the exact searches (`dp.py`, `exhaustive.py`)
are the optimising placements. Placements are registered by name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from policies.checkpoint_plan import CheckpointPlan
from policies.placement.inputs import Affine, PlanInputs, RouterOption
from skipsim.registry import registrar


@dataclass(frozen=True)
class Plan:
    boundaries: tuple[int, ...]      # 0 = b0 < ... < bk = L
    option_keys: tuple[str, ...]     # one per inner boundary b1..b(k-1)

    def __post_init__(self):
        CheckpointPlan(tuple(self.boundaries))  # validates the boundaries
        if len(self.option_keys) != len(self.boundaries) - 2:
            raise ValueError(f"{len(self.option_keys)} options for "
                             f"{len(self.boundaries) - 2} routers")

    @property
    def routers(self) -> tuple[int, ...]:
        return tuple(self.boundaries[1:-1])

    def option(self, inputs: PlanInputs, layer: int) -> RouterOption:
        """The chosen option at router `layer`; a layer the profile never measured,
        or a key it lacks, is a router that looks up and never skips (as the
        simulator's measured skip model treats it)."""
        key = self.option_keys[self.boundaries.index(layer) - 1]
        return inputs.option_named(layer, key) or never_option(inputs, key)

    def block_sizes(self) -> str:
        return str(CheckpointPlan(tuple(self.boundaries)))

    def describe(self, inputs: PlanInputs) -> str:
        if not self.routers:
            return "no routers (one block, the full model)"
        parts = [f"{b}@{k}/{self.option(inputs, b).bank_entries}"
                 for b, k in zip(self.routers, self.option_keys)]
        return f"blocks {self.block_sizes()}; routers layer@point/entries: {' '.join(parts)}"


def never_option(inputs: PlanInputs, key: str) -> RouterOption:
    """A router with no measured figures: it pays the lookup and never hits."""
    f = inputs.fallback
    if f is not None:
        return RouterOption(key, 0.0, 0.0, (), f.bank_entries, f.lookup)
    return RouterOption(key, 0.0, 0.0, (), 0, Affine(0.0, 0.0))


class Placement(ABC):
    name = "abstract"

    @abstractmethod
    def place(self, inputs: PlanInputs) -> Plan:
        """The plan this placement chooses for `inputs`."""


PLACEMENTS: dict[str, Callable[..., Placement]] = {}
register_placement = registrar(PLACEMENTS, set_name=True)


@register_placement("manual")
class ManualPlacement(Placement):
    """Boundaries as typed (block sizes or boundaries), one operating point for all."""

    def __init__(self, checkpoints: str, option_key: str):
        self.checkpoints, self.option_key = checkpoints, option_key

    def place(self, inputs: PlanInputs) -> Plan:
        plan = CheckpointPlan.parse(self.checkpoints, inputs.num_layers)
        return Plan(plan.boundaries, (self.option_key,) * (plan.num_blocks - 1))


@register_placement("uniform")
class UniformPlacement(Placement):
    """`num_blocks` blocks as equal as integer division allows."""

    def __init__(self, num_blocks: int, option_key: str):
        self.num_blocks, self.option_key = num_blocks, option_key

    def place(self, inputs: PlanInputs) -> Plan:
        plan = CheckpointPlan.uniform(inputs.num_layers, self.num_blocks)
        return Plan(plan.boundaries, (self.option_key,) * (plan.num_blocks - 1))
