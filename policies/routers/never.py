"""`never`: the trivial baseline, every token runs every block."""

import numpy as np

from policies.routers.base import Router, register_router


@register_router("never")
class NeverRouter(Router):
    def scores(self, query):
        return np.full((len(query.keys), len(self.landings)), -np.inf)
