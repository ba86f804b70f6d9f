"""`identity` (carry the state unchanged) and `delta` (add the router's
neighbour delta: d additions, taken as free beside a block)."""

from policies.actions.base import SkipAction, register_action


@register_action("identity")
class Identity(SkipAction):
    def macs_per_token(self, hidden: int) -> int:
        return 0


@register_action("delta")
class NeighbourDelta(SkipAction):
    def macs_per_token(self, hidden: int) -> int:
        return 0
