"""Skip actions: what a skipping token carries to its landing.

`base` holds the contract and the registry; `identity.py` holds the two
free actions, `identity` (the state unchanged) and `delta` (plus the
router's neighbour delta), `shortcut.py` the learned per-block linear map. Pure numpy objects, used
by the calibration's live decoding, the simulator (which prices each action's
work per skipped token through the cost model) and a real executor.
"""

from policies.actions import identity, shortcut  # noqa: F401  (register)
from policies.actions.base import SKIP_ACTIONS, SkipAction, register_action

__all__ = ["SKIP_ACTIONS", "SkipAction", "register_action"]
