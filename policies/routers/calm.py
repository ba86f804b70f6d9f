"""`calm`: early exit on the model's own confidence (Schuster et al. 2022,
"Confident Adaptive Language Modeling", softmax-response measure).

At each checkpoint the LM head reads the state and the exit landing's score
is the top-1 minus top-2 probability of its softmax; the shorter skips are
never taken (score -inf). A threshold on the margin then decides. The LM head
runs at every checkpoint a token stands at (`needs_exit_entropy`), a cost the
simulator charges per query: for SmolLM2 one LM head (576 x 49,152) costs
about as much as six decoder layers, so the exit must come early to pay.
"""

import numpy as np

from policies.routers.base import Router, register_router


@register_router("calm")
class CalmRouter(Router):
    needs_exit_entropy = True

    def scores(self, query):
        out = np.full((len(query.keys), len(self.landings)), -np.inf)
        if query.exit_margin is not None:
            out[:, -1] = query.exit_margin
        return out
