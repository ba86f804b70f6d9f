"""Skip models the simulator can use, registered by name on import
(see simulator.skip_model for the contract and the `no-skip` baseline).

`measured` samples router outcomes from a SkipProfile measured on the real model.
"""

from simulator.skip_models import measured  # noqa: F401  (registers "measured")
