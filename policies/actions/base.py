"""The skip-action contract and registry.

A skip action is what a token's state becomes when it skips from checkpoint
i to landing j: `carry(h)`. Its price is the multiply-adds it spends per
skipping token (`macs_per_token`), which the cost model turns into seconds
(`CostModel.skip_action_time_s`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

from skipsim.errors import UserError
from skipsim.registry import registrar


class SkipAction(ABC):
    name = "abstract"

    @abstractmethod
    def macs_per_token(self, hidden: int) -> int:
        """Multiply-adds one skipping token costs (hidden = model width d)."""


SKIP_ACTIONS: dict[str, Callable[..., SkipAction]] = {}

register_action = registrar(SKIP_ACTIONS, set_name=True)


def skip_action(name: str) -> SkipAction:
    if name not in SKIP_ACTIONS:
        raise UserError(f"unknown skip action {name!r} "
                        f"(choose from {', '.join(sorted(SKIP_ACTIONS))})")
    return SKIP_ACTIONS[name]()
