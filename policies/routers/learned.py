"""Learned routers for tens of thousands of examples: `gbt` (gradient-boosted
trees) and `mlp` (a small neural network), on the hidden state plus context.

Features (`learned_features`): the hidden state's top principal components
(fitted on the router's examples; trees split poorly on 576 raw coordinates,
and the MLP trains faster on a few dozen), its log norm, the saturation
cos(h_{b-1}, h_b) and the context features of `features.py` (the last layers'
deltas, position, the previous token's saturation, the prompt's running
mean, the previous step's final softmax confidence). No LM head is read at
the checkpoint (the previous step's was read anyway), so these routers cost
a few thousand multiply-adds per query, not an LM head.

`gbt`: one `HistGradientBoostingClassifier` per candidate landing (Ke et al.
2017, LightGBM-style histogram boosting), predicting P(safe). `mlp`: one
`MLPClassifier` per checkpoint with one logistic output per landing
(multi-label), trained with Adam. Landings with one class in training get
that class's frequency as a constant score (as `probe`). Both fit and score
on one thread (`threadpoolctl`): the trees' OpenMP workers crawl on a busy
machine, and the calibration runs on one thread anyway.
"""

from __future__ import annotations

import numpy as np

from policies.routers.bank import normalise
from policies.routers.base import Query, Router, SkipExamples, register_router

COMPONENTS = 32
SEED = 0


class _Features:
    """PCA of the normalised keys + scalar features, standardised."""

    def __init__(self, ex: SkipExamples):
        keys = normalise(ex.keys).astype(np.float64)
        self.mean = keys.mean(0)
        k = min(COMPONENTS, keys.shape[1], max(1, len(keys) - 1))
        _, _, vt = np.linalg.svd(keys[:min(len(keys), 8000)] - self.mean, full_matrices=False)
        self.basis = vt[:k].T
        x = self._raw(ex.query)
        self.mu, self.sd = x.mean(0), x.std(0) + 1e-9

    def _raw(self, q: Query) -> np.ndarray:
        keys = normalise(q.keys).astype(np.float64)
        norm = np.log(np.linalg.norm(q.keys, axis=1, keepdims=True) + 1e-6)
        ctx = q.context if q.context is not None else np.zeros((len(keys), 0))
        return np.hstack([(keys - self.mean) @ self.basis, norm, q.prev_cos[:, None], ctx])

    def __call__(self, q: Query) -> np.ndarray:
        return (self._raw(q) - self.mu) / self.sd


def _constant_or(y: np.ndarray, fit):
    return float(y.mean()) if y.all() or not y.any() else fit(y)


def one_thread(method):
    """Run `method` with native thread pools (OpenMP, BLAS) limited to one thread."""
    def wrapped(*args, **kwargs):
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            return method(*args, **kwargs)
    return wrapped


@register_router("gbt")
class BoostedTreesRouter(Router):
    needs_context = True

    @one_thread
    def __init__(self, examples, max_iter: int = 150):
        from sklearn.ensemble import HistGradientBoostingClassifier

        super().__init__(examples)
        self.features = _Features(examples)
        x = self.features(examples.query)
        self.models = [_constant_or(examples.safe[:, j], lambda y: HistGradientBoostingClassifier(
            max_iter=max_iter, learning_rate=0.1, max_leaf_nodes=15, l2_regularization=1.0,
            early_stopping=False, random_state=SEED).fit(x, y))
            for j in range(len(self.landings))]

    @one_thread
    def scores(self, query):
        x = self.features(query)
        return np.stack([np.full(len(x), m) if isinstance(m, float) else m.predict_proba(x)[:, 1]
                         for m in self.models], 1)


@register_router("mlp")
class MLPRouter(Router):
    needs_context = True

    @one_thread
    def __init__(self, examples, hidden: int = 64, max_iter: int = 80):
        from sklearn.neural_network import MLPClassifier

        super().__init__(examples)
        self.features = _Features(examples)
        x = self.features(examples.query)
        y = examples.safe.astype(int)
        self.constant = {j: float(y[:, j].mean()) for j in range(y.shape[1])
                         if y[:, j].all() or not y[:, j].any()}
        self.model = None
        if len(self.constant) < y.shape[1]:
            import warnings

            from sklearn.exceptions import ConvergenceWarning
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                self.model = MLPClassifier(hidden_layer_sizes=(hidden,), alpha=1e-3,
                                           batch_size=256, max_iter=max_iter,
                                           random_state=SEED)
                self.model.fit(x, y if y.shape[1] > 1 else y[:, 0])

    @one_thread
    def scores(self, query):
        x = self.features(query)
        out = np.zeros((len(x), len(self.landings)))
        if self.model is not None:
            p = self.model.predict_proba(x)   # multi-label: [n, m]; one landing: [n, 2] classes
            out[:] = p if out.shape[1] > 1 else p[:, 1:]
        for j, c in self.constant.items():
            out[:, j] = c
        return out
