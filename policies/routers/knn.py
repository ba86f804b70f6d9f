"""`knn`: a similarity-weighted vote of the k nearest bank entries on each landing.

Score of landing j = sum_i w_i [entry i was safe at j] / sum_i w_i over the k
nearest entries, with weights w_i = exp(sim_i / temperature) (softmax over
cosine similarity), so close neighbours count more. The vote is a calibrated-
looking probability; the threshold then picks how sure it must be. The delta
offered is the weighted mean of the neighbours' deltas for that landing.
"""

import numpy as np

from policies.routers.bank import SkipBank
from policies.routers.base import Router, register_router

K_NEIGHBOURS = 16
TEMPERATURE = 0.05


@register_router("knn")
class KnnRouter(Router):
    def __init__(self, examples, k: int = K_NEIGHBOURS, temperature: float = TEMPERATURE):
        super().__init__(examples)
        self.bank = SkipBank(examples)
        self.k, self.temperature = k, temperature

    def _weights(self, keys):
        sims, ids = self.bank.search(keys, self.k)
        w = np.exp((sims - sims[:, :1]) / self.temperature)
        return w / w.sum(1, keepdims=True), ids

    def scores(self, query):
        w, ids = self._weights(query.keys)
        safe = self.bank.examples.safe[ids].astype(np.float64)  # [n, k, m]
        return np.einsum("nk,nkm->nm", w, safe)

    def deltas(self, query, landing_idx):
        w, ids = self._weights(query.keys)
        d = self.bank.examples.deltas[ids, np.maximum(landing_idx, 0)[:, None]]  # [n, k, d]
        return np.where((landing_idx >= 0)[:, None], np.einsum("nk,nkd->nd", w, d), 0.0)
