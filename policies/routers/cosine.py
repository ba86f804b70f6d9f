"""`cosine`: take the nearest bank entry's furthest safe skip, scored by its similarity.

The plain semantic-skipping router: the score of a landing is the cosine
similarity of the nearest neighbour if that neighbour was safe at that
landing, -inf otherwise; a threshold on similarity then decides. The
neighbour's residual delta is offered for the delta action.
"""

import numpy as np

from policies.routers.bank import SkipBank
from policies.routers.base import Router, register_router


@register_router("cosine")
class CosineRouter(Router):
    def __init__(self, examples):
        super().__init__(examples)
        self.bank = SkipBank(examples)

    def scores(self, query):
        sims, ids = self.bank.search(query.keys, 1)
        safe = self.bank.examples.safe[ids[:, 0]]
        return np.where(safe, sims[:, :1], -np.inf)

    def deltas(self, query, landing_idx):
        _, ids = self.bank.search(query.keys, 1)
        d = self.bank.examples.deltas[ids[:, 0], np.maximum(landing_idx, 0)]
        return np.where((landing_idx >= 0)[:, None], d, 0.0).astype(np.float32)
