"""A checkpoint plan: where the model is cut into blocks.

Checkpoints 0 = b0 < b1 < ... < bk = L cut L layers into k blocks; block i
runs layers [b_i, b_{i+1}). A router sits at every inner checkpoint b_i
(0 < i < k). The plan is written on the command line as block sizes
("8,4,4,4,2,2") or as boundaries ("0,8,12,16,20,22,24").
"""

from __future__ import annotations

from dataclasses import dataclass

from skipsim.errors import UserError


@dataclass(frozen=True)
class CheckpointPlan:
    boundaries: tuple[int, ...]

    def __post_init__(self):
        b = self.boundaries
        if len(b) < 2 or b[0] != 0 or any(x >= y for x, y in zip(b, b[1:])):
            raise UserError(f"checkpoints {list(b)} must rise strictly from 0 to the layer count")

    @property
    def num_layers(self) -> int:
        return self.boundaries[-1]

    @property
    def num_blocks(self) -> int:
        return len(self.boundaries) - 1

    @property
    def block_sizes(self) -> tuple[int, ...]:
        return tuple(y - x for x, y in zip(self.boundaries, self.boundaries[1:]))

    @property
    def router_checkpoints(self) -> tuple[int, ...]:
        """Indices i of the inner checkpoints, where a router consults a bank."""
        return tuple(range(1, self.num_blocks))

    def layers_between(self, start: int, end: int) -> int:
        """Layers in blocks start..end-1 (what a skip from start to end saves)."""
        return self.boundaries[end] - self.boundaries[start]

    @classmethod
    def from_block_sizes(cls, sizes: list[int]) -> CheckpointPlan:
        if not sizes or any(s <= 0 for s in sizes):
            raise UserError(f"block sizes {sizes} must all be positive")
        bounds = [0]
        for s in sizes:
            bounds.append(bounds[-1] + s)
        return cls(tuple(bounds))

    @classmethod
    def parse(cls, text: str, num_layers: int) -> CheckpointPlan:
        """Block sizes or boundaries, checked to cover exactly `num_layers` layers."""
        try:
            values = [int(v) for v in text.replace(" ", "").split(",") if v]
        except ValueError:
            raise UserError(f"--checkpoints {text!r}: expected comma-separated integers") from None
        plan = (cls(tuple(values)) if values and values[0] == 0
                else cls.from_block_sizes(values))
        if plan.num_layers != num_layers:
            raise UserError(f"--checkpoints {text!r} covers {plan.num_layers} layers, "
                            f"the model has {num_layers}")
        return plan

    @classmethod
    def uniform(cls, num_layers: int, num_blocks: int) -> CheckpointPlan:
        """The trivial baseline: blocks as equal as integer division allows."""
        if not 1 <= num_blocks <= num_layers:
            raise UserError(f"cannot cut {num_layers} layers into {num_blocks} blocks")
        base, extra = divmod(num_layers, num_blocks)
        return cls.from_block_sizes([base + (i < extra) for i in range(num_blocks)])

    def scaled(self, num_layers: int) -> CheckpointPlan:
        """This plan at the same relative depths in a model of `num_layers`
        layers: each checkpoint b goes to round(b * num_layers / L); checkpoints
        that round onto one another merge."""
        bounds = sorted({int(b * num_layers / self.num_layers + 0.5) for b in self.boundaries})
        return CheckpointPlan(tuple(bounds))

    def __str__(self) -> str:
        return ",".join(str(s) for s in self.block_sizes)
