"""`probe`: a logistic-regression probe per candidate landing, trained on the safe labels.

Features: the hidden state (L2-normalised, so its scale does not dominate),
its norm, the saturation feature cos(h_{b-1}, h_b) and the entropy of the
LM head read at the checkpoint (an early-exit confidence; Schuster et al.
2022, "Confident Adaptive Language Modeling"). One classifier per landing
predicts P(safe); landings with a single class in training get that class's
frequency as a constant score.
"""

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from policies.routers.bank import normalise
from policies.routers.base import Router, register_router

C_REGULARISATION = 0.05


def probe_features(keys, prev_cos, exit_entropy) -> np.ndarray:
    norm = np.linalg.norm(keys, axis=1, keepdims=True)
    return np.hstack([normalise(keys), np.log(norm + 1e-6), prev_cos[:, None],
                      exit_entropy[:, None]]).astype(np.float64)


@register_router("probe")
class ProbeRouter(Router):
    needs_exit_entropy = True

    def __init__(self, examples, c: float = C_REGULARISATION):
        super().__init__(examples)
        x = probe_features(examples.keys, examples.prev_cos, examples.exit_entropy)
        self.scaler = StandardScaler().fit(x)
        x = self.scaler.transform(x)
        self.models = []
        for j in range(len(self.landings)):
            y = examples.safe[:, j]
            if y.all() or not y.any():
                self.models.append(float(y.mean()))
            else:
                self.models.append(LogisticRegression(C=c, max_iter=500).fit(x, y))

    def scores(self, query):
        x = self.scaler.transform(probe_features(query.keys, query.prev_cos, query.exit_entropy))
        cols = [np.full(len(x), m) if isinstance(m, float) else m.predict_proba(x)[:, 1]
                for m in self.models]
        return np.stack(cols, 1)
